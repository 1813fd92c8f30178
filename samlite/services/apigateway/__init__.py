"""Amazon API Gateway and function URLs: the HTTP gateway, routing, events, auth, CORS."""
