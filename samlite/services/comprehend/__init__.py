"""Amazon Comprehend: DetectSentiment from a local model."""
