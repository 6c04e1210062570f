"""HTTP: routing, request and response models in DingTalk's camelCase, auth, the error envelope."""
