"""Schemas of accounts and authentication."""

from __future__ import annotations

from marshmallow import fields, validate

from backend.models import ROLES
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of
from backend.services import policy


class UserSchema(StrictSchema):
    id = Int64(dump_only=True)
    username = fields.Str()
    display_name = fields.Str()
    roles = fields.List(fields.Str())
    is_active = fields.Bool()
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)


class MeSchema(UserSchema):
    permissions = fields.Function(policy.permissions_of, metadata={
        "description": "The named permissions this user's roles hold (see the permission table)"})


UserPageSchema = page_of(UserSchema, "UserPageSchema")

_roles = fields.List(fields.Str(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1))


class UserCreateSchema(StrictSchema):
    username = fields.Str(required=True, validate=validate.Length(min=2, max=64))
    password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    roles = fields.List(fields.Str(validate=validate.OneOf(ROLES)), required=True, validate=validate.Length(min=1))
    display_name = fields.Str(load_default="", validate=validate.Length(max=128))


class UserUpdateSchema(StrictSchema):
    display_name = fields.Str(validate=validate.Length(max=128))
    roles = fields.List(fields.Str(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1))
    is_active = fields.Bool()
    password = fields.Str(load_only=True, validate=validate.Length(min=1, max=256),
                          metadata={"description": "Set a new password (revokes the user's open sessions)"})


class UserListArgsSchema(PageArgsSchema):
    role = fields.Str(validate=validate.OneOf(ROLES))
    active = fields.Bool()
    q = fields.Str(validate=validate.Length(max=64))


class LoginSchema(StrictSchema):
    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    password = fields.Str(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class TokensSchema(StrictSchema):
    access_token = fields.Str(required=True)
    refresh_token = fields.Str(metadata={"description": "A new one at login and at every refresh; each works once "
                                                        "(a second use revokes the whole login session)"})
    token_type = fields.Str(dump_default="Bearer")
    expires_in = Int64(metadata={"description": "Seconds until the access token expires"})
    user = fields.Nested(UserSchema)


class LogoutSchema(StrictSchema):
    refresh_token = fields.Str(metadata={"description": "Also end the session of this refresh token"})


class SessionSchema(StrictSchema):
    user = fields.Nested(MeSchema)
    expires_in = Int64(metadata={"description": "Seconds until the access cookie's token expires (then POST "
                                                "/auth/session/refresh)"})
    token_type = fields.Str(dump_default="cookie", metadata={"description": "Always cookie: no token in the body"})
