#!/usr/bin/env python3
"""A plain Python client of Agora's REST API (/api/v1), standard library only.

Usage: python3 tests/python/agora_rest_client.py http://127.0.0.1:PORT [ADMIN_EMAIL ADMIN_PASSWORD]

Walks a small marketplace flow (register, log in, create a market and a product,
list, order, read back), checks error bodies, and with an admin's credentials
administers: lists users, sets a role, creates an API key, calls with it and revokes it. On success prints one line
of JSON to stdout and exits 0; on the first failed check it prints the step, the
status and the body to stderr and exits 1.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = ""
ADMIN = None  # (email, password) when given: the admin steps run too
CHECKED = []
LAST = {"step": "start", "status": None, "body": None}  # the latest response, for error reports


class CheckFailed(Exception):
    pass


def call(method, path, body=None, token=None, api_key=None):
    """One request to /api/v1; returns (status, headers, parsed JSON or None).

    An operation without a request body (POST /api-keys/{id}/revoke) gets none, and no
    Content-Type, as the document describes it."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    if api_key:
        headers["X-Api-Key"] = api_key
    request = urllib.request.Request(BASE + "/api/v1" + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, error.headers, error.read()
    text = raw.decode("utf-8")
    return status, response_headers, (json.loads(text) if text else None)


def check(step, condition, status=None, body=None):
    if not condition:
        raise CheckFailed(f"check failed: {step} (status {status}, body {json.dumps(body)})")
    CHECKED.append(step)


def expect_ok(step, method, path, body=None, token=None, api_key=None):
    status, _, parsed = call(method, path, body, token, api_key)
    LAST.update(step=step, status=status, body=parsed)
    if status != 200:
        raise CheckFailed(f"{step}: {method} {path} returned {status}, body {json.dumps(parsed)}")
    return parsed


def check_error_body(step, status, headers, body, expected_status, expected_code):
    LAST.update(step=step, status=status, body=body)
    check(f"{step}: status {expected_status}", status == expected_status, status, body)
    check(f"{step}: code {expected_code}", isinstance(body, dict) and body.get("code") == expected_code, status, body)
    message = body.get("message")
    check(f"{step}: message", isinstance(message, str) and message != "", status, body)
    request_id = headers.get("X-Request-Id")
    data = body.get("data") or {}
    check(f"{step}: requestId matches X-Request-Id", bool(request_id) and data.get("requestId") == request_id, status, body)
    return data


def run():
    tag = uuid.uuid4().hex[:12]
    email = f"py_{tag}@example.com"
    password = "Passw0rdPython"

    registered = expect_ok("register", "POST", "/auth/register",
                           {"email": email, "username": f"py_{tag}", "password": password, "name": "Python Client"})
    user_id = registered["user"]["id"]
    check("register", registered["tokens"]["tokenType"] == "Bearer" and registered["tokens"]["accessToken"], 200, registered)

    logged_in = expect_ok("login", "POST", "/auth/login", {"email": email, "password": password})
    check("login", logged_in["user"]["id"] == user_id and logged_in["tokens"]["accessToken"], 200, logged_in)
    token = logged_in["tokens"]["accessToken"]

    me = expect_ok("users/me", "GET", "/users/me", token=token)
    check("users/me", me["id"] == user_id, 200, me)

    market_name = f"Python market {tag}"
    market = expect_ok("create market", "POST", "/markets", {"name": market_name, "status": "ACTIVE"}, token)
    check("create market", market["name"] == market_name and market["status"] == "ACTIVE"
          and market["owner"]["id"] == user_id, 200, market)
    market_id = market["id"]

    product = expect_ok("create product", "POST", f"/markets/{market_id}/products",
                        {"name": "Python lamp", "priceCents": 1999, "stock": 5}, token)
    check("create product", product["priceCents"] == 1999 and product["stock"] == 5, 200, product)
    product_id = product["id"]

    listed = expect_ok("list markets", "GET", "/markets?limit=5&status=ACTIVE")
    check("list markets", isinstance(listed["items"], list) and len(listed["items"]) > 0
          and isinstance(listed["total"], int) and (listed["nextCursor"] is None or isinstance(listed["nextCursor"], str)),
          200, listed)
    query = urllib.parse.urlencode({"limit": 5, "status": "ACTIVE", "search": market_name})
    found = expect_ok("search markets", "GET", f"/markets?{query}")
    check("search markets", market_id in [m["id"] for m in found["items"]], 200, found)

    order = expect_ok("place order", "POST", "/orders",
                      {"marketId": market_id, "items": [{"productId": product_id, "quantity": 2}]}, token)
    check("place order", order["status"] == "CONFIRMED" and order["totalCents"] == 3998
          and order["userId"] == user_id and order["marketId"] == market_id
          and order["items"][0]["productId"] == product_id and order["items"][0]["quantity"] == 2
          and order["items"][0]["unitPriceCents"] == 1999, 200, order)

    read_back = expect_ok("read order", "GET", f"/orders/{order['id']}", token=token)
    check("read order", read_back == order, 200, read_back)

    stocked = expect_ok("product stock", "GET", f"/products/{product_id}")
    check("product stock", stocked["stock"] == 3, 200, stocked)

    status, headers, body = call("POST", "/auth/register", {"email": "not-an-email", "username": f"px_{tag}",
                                                            "password": "short", "name": "Bad"})
    data = check_error_body("400 error", status, headers, body, 400, "BAD_REQUEST")
    field_errors = data.get("fieldErrors") or {}
    check("400 error: fieldErrors", all(
        isinstance(field_errors.get(key), list) and field_errors[key]
        and all(isinstance(m, str) for m in field_errors[key]) for key in ("email", "password")), status, body)

    status, headers, body = call("GET", "/users/me")
    check_error_body("401 error", status, headers, body, 401, "UNAUTHORIZED")

    # JSON bodies are strictly typed: "false" is not a boolean.
    status, headers, body = call("POST", "/posts", {"title": "t", "content": "c", "published": "false"}, token)
    data = check_error_body("strict boolean", status, headers, body, 400, "BAD_REQUEST")
    check("strict boolean: names the field", "published" in (data.get("fieldErrors") or {}), status, body)

    result = {"ok": True, "userId": user_id, "marketId": market_id, "orderId": order["id"],
              "totalCents": order["totalCents"]}
    if ADMIN:
        result.update(administer(tag, user_id))
    result["checked"] = CHECKED
    return result


def administer(tag, user_id):
    """What an internal service that administers users and keys does, over REST only."""
    admin = expect_ok("admin login", "POST", "/auth/login", {"email": ADMIN[0], "password": ADMIN[1]})
    admin_token = admin["tokens"]["accessToken"]
    check("admin login", admin["user"]["role"] == "ADMIN", 200, admin)

    query = urllib.parse.urlencode({"search": f"py_{tag}", "limit": 10})
    users = expect_ok("list users", "GET", f"/users?{query}", token=admin_token)
    check("list users", [u["id"] for u in users["items"]] == [user_id] and users["total"] == 1
          and users["items"][0]["email"] == f"py_{tag}@example.com", 200, users)

    promoted = expect_ok("set role", "PUT", f"/users/{user_id}/role", {"role": "ADMIN"}, admin_token)
    check("set role", promoted["id"] == user_id and promoted["role"] == "ADMIN", 200, promoted)

    created = expect_ok("create API key", "POST", "/api-keys",
                        {"name": f"py key {tag}", "role": "ADMIN", "expiresAt": "2099-01-01T00:00:00Z"},
                        admin_token)
    check("create API key", isinstance(created["key"], str) and created["key"] and created["id"], 200, created)
    key = created["key"]

    by_key = expect_ok("call with the key", "GET", f"/users?{query}", api_key=key)
    check("call with the key", [u["id"] for u in by_key["items"]] == [user_id], 200, by_key)
    status, headers, body = call("GET", "/users/me", api_key=key)
    check_error_body("a key is not a user", status, headers, body, 403, "FORBIDDEN")

    keys = expect_ok("list API keys", "GET", "/api-keys", token=admin_token)
    mine = [k for k in keys if k["id"] == created["id"]]
    check("list API keys", len(mine) == 1 and "key" not in mine[0] and mine[0]["revokedAt"] is None
          and mine[0]["expiresAt"] == "2099-01-01T00:00:00.000Z", 200, keys)

    revoked = expect_ok("revoke API key", "POST", f"/api-keys/{created['id']}/revoke", token=admin_token)
    check("revoke API key", revoked == {"success": True}, 200, revoked)
    status, headers, body = call("GET", f"/users?{query}", api_key=key)
    check_error_body("revoked key", status, headers, body, 401, "UNAUTHORIZED")

    return {"apiKeyId": created["id"], "role": promoted["role"]}


def main():
    global BASE, ADMIN
    if len(sys.argv) not in (2, 4):
        print("usage: agora_rest_client.py <base_url> [<admin_email> <admin_password>]", file=sys.stderr)
        return 2
    BASE = sys.argv[1].rstrip("/")
    if len(sys.argv) == 4:
        ADMIN = (sys.argv[2], sys.argv[3])
    try:
        result = run()
    except CheckFailed as failure:
        print(str(failure), file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError, urllib.error.URLError) as error:
        print(f"{LAST['step']}: unexpected response ({type(error).__name__}: {error}), "
              f"status {LAST['status']}, body {json.dumps(LAST['body'])}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
