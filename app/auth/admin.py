"""A minimal HTTP admin surface for keys: ``POST /admin/keys/{key_id}/revoke``.

Operators revoke a leaked key from wherever they are, through any instance,
with a key that has the ``admin`` scope; the revocation is committed, audited
(actor ``admin-key:<id>``) and announced on the invalidation channel like the
CLI's. Issuing and rotating stay CLI-only (``cryptoql keys``) so that new
secrets are never sent over the network by the server.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth import errors
from app.auth.manage import KeyAdmin, KeyAdminError
from resolvers.principal import Principal


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


async def revoke_key(request: Request) -> JSONResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.key_id is None:
        err = errors.missing()
        return _error(err.code, err.message, err.status)
    if "admin" not in principal.scopes:
        return _error(errors.FORBIDDEN, "Revoking keys requires the 'admin' scope", 403)
    admin: KeyAdmin = request.state.services["key_admin"]
    try:
        record = await admin.revoke(
            request.path_params["key_id"], actor=f"admin-key:{principal.key_id}"
        )
    except KeyAdminError as exc:
        return _error("NOT_FOUND", str(exc), 404)
    request.state.services["keys"].invalidate(record.id)
    revoked_at = record.revoked_at.isoformat() if record.revoked_at else None
    return JSONResponse({"id": record.id, "revokedAt": revoked_at})


ADMIN_ROUTES = [Route("/admin/keys/{key_id}/revoke", revoke_key, methods=["POST"])]
