"""LoadBalancerAuth: who may reach the targets behind an ALB, checked by the ALB itself."""

from __future__ import annotations

from typing import Callable, Optional

from aws_cdk import Duration, SecretValue, Token
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_elasticloadbalancingv2_actions as elbv2_actions


class LoadBalancerAuth:
    """Users sign in before the ALB forwards to the targets (ALB authenticate actions, HTTPS
    listeners only): build one with `LoadBalancerAuth.cognito(...)` or `.oidc(...)`.

    The ALB keeps the session in a cookie; browsers are redirected to sign in, and a request
    without a session gets `on_unauthenticated_request` (default: authenticate). Health checks
    go to the targets directly and need no session.
    """

    def __init__(self, kind: str, build: Callable[[elbv2.ListenerAction], elbv2.ListenerAction]) -> None:
        # Use the static methods: they check their arguments.
        self.kind = kind
        self._build = build

    @staticmethod
    def cognito(
        *,
        user_pool: cognito.IUserPool,
        user_pool_client: cognito.IUserPoolClient,
        user_pool_domain: cognito.IUserPoolDomain,
        scope: str = "openid",
        session_timeout: Optional[Duration] = None,
        on_unauthenticated_request: Optional[elbv2.UnauthenticatedAction] = None,
    ) -> "LoadBalancerAuth":
        """Sign in with an Amazon Cognito user pool.

        :param user_pool: the user pool.
        :param user_pool_client: an app client of it with a secret, the authorization code
            grant and the callback URL `https://<your domain>/oauth2/idpresponse`.
        :param user_pool_domain: the pool's hosted sign-in domain.
        :param scope: the OAuth scopes asked for. Default: `openid`.
        :param session_timeout: how long a session lasts. Default: 7 days (the ALB's).
        :param on_unauthenticated_request: what a request without a session gets. Default:
            authenticate (redirect to sign in).
        """
        provider = {"user_pool": user_pool, "user_pool_client": user_pool_client, "user_pool_domain": user_pool_domain}
        _require("cognito", **provider)
        session = _session(scope, session_timeout, on_unauthenticated_request)

        def build(next_action: elbv2.ListenerAction) -> elbv2.ListenerAction:
            return elbv2_actions.AuthenticateCognitoAction(next=next_action, **provider, **session)

        return LoadBalancerAuth("cognito", build)

    @staticmethod
    def oidc(
        *,
        issuer: str,
        authorization_endpoint: str,
        token_endpoint: str,
        user_info_endpoint: str,
        client_id: str,
        client_secret: SecretValue,
        scope: str = "openid",
        session_timeout: Optional[Duration] = None,
        on_unauthenticated_request: Optional[elbv2.UnauthenticatedAction] = None,
    ) -> "LoadBalancerAuth":
        """Sign in with any OpenID Connect provider.

        :param issuer: the provider's issuer URL (https).
        :param authorization_endpoint: its authorization endpoint (https).
        :param token_endpoint: its token endpoint (https).
        :param user_info_endpoint: its user info endpoint (https).
        :param client_id: the ALB's client id at the provider.
        :param client_secret: the client secret, as a SecretValue (for example
            `SecretValue.secrets_manager("name")`), never a plain string in the template.
        :param scope: the OAuth scopes asked for. Default: `openid`.
        :param session_timeout: how long a session lasts. Default: 7 days (the ALB's).
        :param on_unauthenticated_request: what a request without a session gets. Default:
            authenticate (redirect to sign in).
        """
        endpoints = {
            "issuer": issuer,
            "authorization_endpoint": authorization_endpoint,
            "token_endpoint": token_endpoint,
            "user_info_endpoint": user_info_endpoint,
        }
        _require("oidc", **endpoints, client_id=client_id, client_secret=client_secret)
        for name, url in endpoints.items():
            if not Token.is_unresolved(url) and not url.startswith("https://"):
                raise ValueError(f"LoadBalancerAuth.oidc {name} must be an https:// URL, got {url!r}")
        if not isinstance(client_secret, SecretValue):
            raise ValueError(
                "LoadBalancerAuth.oidc client_secret must be a SecretValue (e.g. SecretValue.secrets_manager(...)): "
                "a plain string would be written into the template"
            )

        session = _session(scope, session_timeout, on_unauthenticated_request)

        def build(next_action: elbv2.ListenerAction) -> elbv2.ListenerAction:
            return elbv2.ListenerAction.authenticate_oidc(
                next=next_action, **endpoints, client_id=client_id, client_secret=client_secret, **session
            )

        return LoadBalancerAuth("oidc", build)

    def action(self, next_action: elbv2.ListenerAction) -> elbv2.ListenerAction:
        """The authenticate action that runs `next_action` once the user is signed in."""
        return self._build(next_action)


def _session(
    scope: str, timeout: Optional[Duration], unauthenticated: Optional[elbv2.UnauthenticatedAction]
) -> dict[str, object]:
    return {"scope": scope, "session_timeout": timeout, "on_unauthenticated_request": unauthenticated}


def _require(kind: str, **values: object) -> None:
    missing = [name for name, value in values.items() if value is None or value == ""]
    if missing:
        raise ValueError(f"LoadBalancerAuth.{kind} needs its provider: pass {', '.join(missing)}")


__all__ = ["LoadBalancerAuth"]
