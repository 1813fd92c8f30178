/* Log every SQS record the function receives (as the serverless-patterns sqs-lambda example does). */
exports.handler = async (event, context) => {
  for (const record of event.Records) {
    console.log(JSON.stringify(record));
  }
  return {};
};
