// samlite's Node.js runtime: the program inside a nodejs* execution environment.
//
// Talks to the Lambda Runtime API (AWS_LAMBDA_RUNTIME_API) with Node's built-in http module (no
// npm dependencies), as Lambda's own Node runtime does: load the handler named by _HANDLER
// (CommonJS via require, ES modules via import()), then loop: GET /next, run the handler (async,
// promise-returning or callback style), POST the result or the error. console.* lines are written
// as `<ISO time>\t<request id>\t<LEVEL>\t<message>`, one framed event each on
// _LAMBDA_TELEMETRY_LOG_FD when the engine provides it (else one line on stdout).
//
// Simplification: callbackWaitsForEmptyEventLoop is accepted but not honoured: the result is sent
// as soon as the handler completes (Lambda would first wait for the event loop to drain).

import fs from 'node:fs';
import http from 'node:http';
import { Writable } from 'node:stream';
import path from 'node:path';
import util from 'node:util';
import Module, { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const env = process.env;
const [API_HOST, API_PORT] = (env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001').split(':');
const PREFIX = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const requireHere = createRequire(import.meta.url);

// ES modules find the runtime's AWS SDK through a node_modules link above the task root (they
// ignore NODE_PATH). CommonJS must not walk into that link: there NODE_PATH puts layers before the
// SDK, as Lambda does, so a layer's own copy wins.
const esmSdkLink = env._SAMLITE_ESM_SDK_LINK;
delete env._SAMLITE_ESM_SDK_LINK;
if (esmSdkLink) {
  const nodeModulePaths = Module._nodeModulePaths;
  Module._nodeModulePaths = function (from) {
    return nodeModulePaths.call(this, from).filter((dir) => dir !== esmSdkLink);
  };
}

// --- logging ------------------------------------------------------------------------------

const telemetryFd = env._LAMBDA_TELEMETRY_LOG_FD ? parseInt(env._LAMBDA_TELEMETRY_LOG_FD, 10) : null;
delete env._LAMBDA_TELEMETRY_LOG_FD;
const FRAME_TEXT = 0xa55a0003;
let currentRequestId; // undefined during init, printed as "undefined" like Lambda does

function writeLine(line) {
  if (telemetryFd !== null) {
    const payload = Buffer.from(line, 'utf8');
    const header = Buffer.alloc(16);
    header.writeUInt32BE(FRAME_TEXT, 0);
    header.writeUInt32BE(payload.length, 4);
    header.writeBigUInt64BE(BigInt(Date.now()) * 1000n, 8);
    try {
      fs.writeSync(telemetryFd, Buffer.concat([header, payload]));
      return;
    } catch {
      // the fd is gone: fall back to stdout
    }
  }
  // One event per line on stdout: keep a multi-line message together as Lambda does.
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  for (const [method, level] of Object.entries(levels)) {
    console[method] = (message, ...params) => {
      writeLine(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(message, ...params)}`);
    };
  }
  console.fatal = (message, ...params) => {
    writeLine(`${new Date().toISOString()}\t${currentRequestId}\tFATAL\t${util.format(message, ...params)}`);
  };
}

// --- errors -------------------------------------------------------------------------------

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function errorObject(error) {
  try {
    if (error instanceof Error) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack' };
  }
}

function formatted(error) {
  const { errorType, errorMessage, trace } = errorObject(error);
  return '\t' + JSON.stringify({ errorType, errorMessage, stack: trace });
}

// --- the Runtime API client ---------------------------------------------------------------

function call(method, route, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: API_HOST, port: API_PORT, path: PREFIX + route, method, agent, noDelay: true,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function postError(route, error, exiting = false) {
  const obj = errorObject(error);
  const body = JSON.stringify(obj);
  const headers = { 'lambda-runtime-function-error-type': obj.errorType };
  // Tells samlite not to hand this environment another invocation: the process exits next.
  if (exiting) headers['samlite-runtime-exiting'] = '1';
  await call('POST', route, body, headers);
}

// --- response streaming -------------------------------------------------------------------
//
// The `awslambda` global of Lambda's Node runtime. A handler wrapped in streamifyResponse gets
// (event, responseStream, context); its bytes are posted to the Runtime API as they are written,
// in one chunked request with Lambda-Runtime-Function-Response-Mode: streaming. An error after the
// stream started travels in the Lambda-Runtime-Function-Error-Type/-Body trailers.

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const HTTP_INTEGRATION_TYPE = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  // The HTTP status, headers and cookies of a function URL's answer: a JSON prelude and 8 NUL
  // bytes, written before the body.
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_TYPE);
    const metadata = Buffer.from(JSON.stringify(prelude ?? {}), 'utf8');
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(Buffer.alloc(8));
    };
    return underlyingStream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[HANDLER_STREAMING] = STREAM_RESPONSE;
    if (typeof options?.highWaterMark === 'number') {
      handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
    }
    return handler;
  },
  HttpResponseStream,
};

function createResponseStream(requestId, highWaterMark) {
  // Its own connection: the keep-alive agent's single socket stays free for /next.
  const req = http.request({
    host: API_HOST, port: API_PORT, path: `${PREFIX}/invocation/${requestId}/response`, method: 'POST',
    noDelay: true,
    headers: {
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      'Transfer-Encoding': 'chunked',
      'Content-Type': 'application/octet-stream',
      Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
    },
  });
  let headersSent = false;
  let failed = null;
  const done = new Promise((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(res.statusCode));
    });
    req.on('error', (error) => {
      failed = error;
      resolve(0);
    });
  });
  const stream = new Writable({
    highWaterMark: highWaterMark ?? 16384,
    write(chunk, encoding, callback) {
      if (failed) return callback(failed);
      stream._beforeFirst();
      // On to the socket at once; the callback waits only when the request pushes back.
      if (req.write(chunk, encoding)) callback();
      else req.once('drain', () => callback(failed ?? undefined));
    },
    final(callback) {
      stream._beforeFirst();
      req.end(() => callback());
    },
  });
  stream._onBeforeFirstWrite = null;
  stream._beforeFirst = () => {
    if (headersSent) return;
    headersSent = true;
    if (stream._onBeforeFirstWrite) stream._onBeforeFirstWrite((data) => req.write(data));
  };
  stream.setContentType = (contentType) => {
    if (headersSent) throw new Error('Tried to set content type after the stream started');
    req.setHeader('Content-Type', contentType);
  };
  stream._fail = async (error) => {
    // The handler failed: end the request with the error trailers (unless it is already over),
    // after what it wrote before failing.
    while (stream.writableLength > 0 && !failed && !req.writableEnded) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (req.writableEnded) return;
    const obj = errorObject(error);
    stream._beforeFirst();
    req.addTrailers({
      'Lambda-Runtime-Function-Error-Type': obj.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(obj)).toString('base64'),
    });
    req.end();
  };
  stream._done = done;
  stream._request = req;
  return stream;
}

async function runStreaming(handler, event, headers, requestId) {
  const responseStream = createResponseStream(requestId, handler[HANDLER_HIGHWATERMARK]);
  const context = makeContext(headers, () => {});
  let error = null;
  try {
    await handler(event, responseStream, context);
    if (!responseStream.writableFinished) {
      // Returned without end(): wait for a pending end, else end the stream for the handler.
      if (!responseStream.writableEnded) responseStream.end();
      await new Promise((resolve, reject) => {
        responseStream.once('finish', resolve);
        responseStream.once('error', reject);
      });
    }
  } catch (e) {
    error = e ?? new Error('handled');
  }
  if (error !== null) {
    console.error('Invoke Error', formatted(error));
    await responseStream._fail(error);
  }
  await responseStream._done;
}

// --- handler loading ----------------------------------------------------------------------

function hasTypeModule(file) {
  let dir = path.dirname(file);
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function tryRequire(file, extension = '') {
  const target = file + extension;
  return fs.existsSync(target) ? requireHere(target) : undefined;
}

async function tryImport(file, extension) {
  const target = file + extension;
  return fs.existsSync(target) ? await import(pathToFileURL(target).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const extensionless = fs.existsSync(lambdaStylePath) && fs.statSync(lambdaStylePath).isFile()
    ? requireHere(lambdaStylePath) : undefined;
  if (extensionless) return extensionless;
  const typeModule = hasTypeModule(lambdaStylePath);
  if (!typeModule) {
    const loaded = tryRequire(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }
  const loaded = (typeModule && (await tryImport(lambdaStylePath, '.js')))
    || (await tryImport(lambdaStylePath, '.mjs'))
    || tryRequire(lambdaStylePath, '.cjs');
  if (loaded) return loaded;
  // Last, Node's own resolution (NODE_PATH, node_modules), as Lambda's runtime does.
  return requireHere(requireHere.resolve(module, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] }));
}

async function loadHandler(appRoot, fullHandler) {
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match || !match[2]) {
    throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  const [, module, handlerPath] = match;
  let loaded;
  try {
    loaded = await loadModule(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${e.name}: ${e.message}`);
    }
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${e.message}`);
    }
    throw e;
  }
  const handler = handlerPath.split('.').reduce((obj, key) => (obj == null ? undefined : obj[key]), loaded);
  if (handler === undefined || handler === null) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is not a function`);
  }
  return handler;
}

// --- invoking -----------------------------------------------------------------------------

function parseJsonHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function makeContext(headers, settle) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const cognito = parseJsonHeader(headers['lambda-runtime-cognito-identity']);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: cognito ? { cognitoIdentityId: cognito.cognitoIdentityId, cognitoIdentityPoolId: cognito.cognitoIdentityPoolId } : undefined,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
    getRemainingTimeInMillis: () => deadline - Date.now(),
    succeed: (result) => settle(null, result),
    fail: (error) => settle(error ?? 'handled'),
    done: (error, result) => settle(error, result),
  };
  return context;
}

// Resolves to [error, result] once: by callback, returned promise, context.succeed/fail/done.
function runHandler(handler, event, headers) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (error, result) => {
      if (settled) return;
      settled = true;
      resolve([error === undefined ? null : error, result]);
    };
    const context = makeContext(headers, settle);
    const callback = (error, result) => settle(error, result);
    try {
      const result = handler(event, context, callback);
      if (result && typeof result.then === 'function') {
        result.then((value) => settle(null, value), (error) => settle(error ?? new Error('handled')));
      } else if (handler.length < 3) {
        // A synchronous handler that neither returns a promise nor calls back: Lambda answers null.
        setImmediate(() => settle(null, undefined));
      }
    } catch (error) {
      settle(error);
    }
  });
}

let activeRequestId = null; // the invocation whose result is not posted yet

async function serve(handler) {
  for (;;) {
    const next = await call('GET', '/invocation/next');
    if (next.status !== 200) {
      throw new Error(`Runtime API /next returned ${next.status}: ${next.body}`);
    }
    const headers = next.headers;
    const requestId = headers['lambda-runtime-aws-request-id'];
    currentRequestId = requestId;
    activeRequestId = requestId;
    if (headers['lambda-runtime-trace-id']) env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    else delete env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8'));
    } catch (error) {
      const fault = new RuntimeError('Runtime.UnmarshalError', `Unable to unmarshal input: ${error.message}`);
      console.error('Invoke Error', formatted(fault));
      activeRequestId = null;
      await postError(`/invocation/${requestId}/error`, fault);
      continue;
    }
    if (handler[HANDLER_STREAMING] === STREAM_RESPONSE) {
      await runStreaming(handler, event, headers, requestId);
      if (activeRequestId === requestId) activeRequestId = null;
      continue;
    }
    const [error, result] = await runHandler(handler, event, headers);
    if (activeRequestId !== requestId) continue; // already answered by an uncaught-error hook
    activeRequestId = null;
    if (error !== null) {
      console.error('Invoke Error', formatted(error));
      await postError(`/invocation/${requestId}/error`, error);
      continue;
    }
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (marshal) {
      const fault = new RuntimeError('Runtime.MarshalError', `Unable to stringify response body: ${marshal.message}`);
      console.error('Invoke Error', formatted(fault));
      await postError(`/invocation/${requestId}/error`, fault);
      continue;
    }
    const posted = await call('POST', `/invocation/${requestId}/response`, body === undefined ? 'null' : body);
    if (posted.status === 413) {
      console.error('Invoke Error', formatted(new RuntimeError('Function.ResponseSizeTooLarge', 'Response payload size exceeded maximum allowed payload size')));
    }
  }
}

async function failInit(error) {
  console.error('Uncaught Exception', formatted(error));
  try {
    await postError('/init/error', error);
  } finally {
    process.exit(129);
  }
}

// An error nobody awaited: fail the running invocation (or the init) and end the process.
async function onUncaught(error, exitCode) {
  const requestId = activeRequestId;
  activeRequestId = null;
  if (requestId) {
    try {
      await postError(`/invocation/${requestId}/error`, error, true);
    } catch {
      // the engine reports the exit instead
    }
  } else if (currentRequestId === undefined) {
    await failInit(error);
  }
  process.exit(exitCode);
}

process.on('uncaughtException', (error) => {
  console.error('Uncaught Exception', formatted(error));
  onUncaught(error, 129);
});

process.on('unhandledRejection', (reason) => {
  const error = new RuntimeError('Runtime.UnhandledPromiseRejection',
    reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));
  console.error('Unhandled Promise Rejection', formatted(error));
  onUncaught(error, 128);
});

patchConsole();
let userHandler;
try {
  userHandler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || '');
} catch (error) {
  await failInit(error);
}
await serve(userHandler);
