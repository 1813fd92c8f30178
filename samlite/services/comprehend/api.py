"""Comprehend over the JSON protocol (`X-Amz-Target: Comprehend_20171127.<Action>`).

DetectSentiment, BatchDetectSentiment and DetectDominantLanguage, served offline by
`samlite.services.comprehend.sentiment`. Input is checked as the service checks it: missing members ->
ValidationException, wrong JSON types -> SerializationException, text over 5,000 UTF-8 bytes ->
TextSizeLimitExceededException, an empty text -> InvalidRequestException, a LanguageCode outside
Comprehend's enum -> UnsupportedLanguageException (every enum language is accepted and scored with
the English VADER model, see sentiment.py).
"""

from __future__ import annotations

from typing import Any

from samlite.core.aws_api import AwsError, Reply, json_body
from samlite.core.endpoint import ApiService
from samlite.core.http import Request
from samlite.services.comprehend.sentiment import (
    LANGUAGES,
    MAX_TEXT_BYTES,
    detect_languages,
    detect_sentiment,
)

MAX_BATCH = 25
MAX_LANGUAGE_TEXT_BYTES = 100_000  # DetectDominantLanguage accepts up to 100 KB


async def handle(request: Request, action: str) -> Reply:
    op = _ACTIONS.get(action)
    if op is None:
        raise AwsError("UnknownOperationException", f"Unknown operation Comprehend_20171127.{action}", 400)
    return Reply.json(op(json_body(request)))


def _required(body: dict[str, Any], key: str, kind: type, member: str) -> Any:
    value = body.get(key)
    if value is None:
        raise AwsError("ValidationException", f"1 validation error detected: Value null at '{member}' failed to "
                       "satisfy constraint: Member must not be null", 400)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise AwsError("SerializationException",
                       f"Start of structure or map found where not expected for {key}" if isinstance(value, dict)
                       else f"Unexpected type for {key}: expected {'string' if kind is str else 'list'}", 400)
    return value


def _language(body: dict[str, Any]) -> str:
    code = _required(body, "LanguageCode", str, "languageCode")
    if code not in LANGUAGES:
        raise AwsError("UnsupportedLanguageException",
                       f"Value '{code}' at 'languageCode' failed to satisfy constraint: Member must satisfy enum "
                       f"value set: [{', '.join(LANGUAGES)}]", 400)
    return code


def _check_text(text: str, limit: int = MAX_TEXT_BYTES) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise AwsError("TextSizeLimitExceededException",
                       f"Input text size exceeds limit. Max length of request text allowed is {limit} bytes "
                       f"while in this request the text size is {size} bytes", 400)
    if not text.strip():
        raise AwsError("InvalidRequestException", "Invalid input: the text is empty or contains only whitespace.",
                       400, extra={"Reason": "INVALID_DOCUMENT", "Detail": {}})


def detect_sentiment_op(body: dict[str, Any]) -> dict[str, Any]:
    text = _required(body, "Text", str, "text")
    _language(body)
    _check_text(text)
    return detect_sentiment(text).to_aws()


def batch_detect_sentiment_op(body: dict[str, Any]) -> dict[str, Any]:
    texts = _required(body, "TextList", list, "textList")
    _language(body)
    if not texts:
        raise AwsError("ValidationException", "1 validation error detected: Value '[]' at 'textList' failed to "
                       "satisfy constraint: Member must have length greater than or equal to 1", 400)
    if len(texts) > MAX_BATCH:
        raise AwsError("BatchSizeLimitExceededException",
                       f"The number of documents in the request exceeds the limit of {MAX_BATCH}.", 400)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise AwsError("SerializationException", f"Unexpected type for TextList[{index}]: expected string", 400)
        try:
            _check_text(text)
        except AwsError as err:
            # Per-document problems go to ErrorList; the other documents are still scored.
            errors.append({"Index": index, "ErrorCode": err.code, "ErrorMessage": err.message})
            continue
        results.append({"Index": index, **detect_sentiment(text).to_aws()})
    return {"ResultList": results, "ErrorList": errors}


def detect_dominant_language_op(body: dict[str, Any]) -> dict[str, Any]:
    text = _required(body, "Text", str, "text")
    _check_text(text, MAX_LANGUAGE_TEXT_BYTES)
    return {"Languages": detect_languages(text)}


_ACTIONS = {
    "DetectSentiment": detect_sentiment_op,
    "BatchDetectSentiment": batch_detect_sentiment_op,
    "DetectDominantLanguage": detect_dominant_language_op,
}


def api() -> ApiService:
    return ApiService("comprehend", handle, targets=("Comprehend_20171127",))
