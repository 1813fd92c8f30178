"""CloudFormation itself: Lambda-backed custom resources run at deploy time."""
