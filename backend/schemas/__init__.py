"""Marshmallow schemas: the single source of request validation, response shapes and the OpenAPI document."""
