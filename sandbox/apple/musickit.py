"""A MusicKit JS shim (`/apple/musickit.js`) whose `authorize()` yields a Music User Token for a fan.

The fan is chosen like on the Spotify stand-in: `window.SANDBOX_FAN`, a `sandbox_fan` query parameter
on the page, or a `sandbox_fan` cookie of the page's origin (and `sandbox_decision=deny` to refuse).
Without one, `authorize()` opens a sign-in popup with "Agree" and "Cancel", as MusicKit opens Apple's.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sandbox.apple.keys import DeveloperTokenError
from sandbox.gate import CALLER

if TYPE_CHECKING:
    from sandbox.routing import ServiceRouter
    from sandbox.state import Sandbox

SHIM = r"""/* MusicKit JS (presave sandbox shim): the parts a web page uses to get a Music User Token. */
(function () {
  "use strict";
  var BASE = __BASE__;
  var SANDBOX_ORIGIN = new URL(BASE).origin;
  var errors = {
    AUTHORIZATION_ERROR: "AUTHORIZATION_ERROR",
    CONFIGURATION_ERROR: "CONFIGURATION_ERROR",
    UNAUTHORIZED_ERROR: "UNAUTHORIZED_ERROR",
    NETWORK_ERROR: "NETWORK_ERROR"
  };
  var AuthorizationStatus = { NOT_DETERMINED: 0, DENIED: 1, RESTRICTED: 2, AUTHORIZED: 3 };
  function MKError(code, description) {
    var error = new Error(description || code);
    error.name = "MKError";
    error.errorCode = code;
    error.description = description || code;
    return error;
  }
  function choice(name) {
    var global = window["SANDBOX_" + name.toUpperCase()];
    if (global) return String(global);
    var fromQuery = new URLSearchParams(window.location.search).get("sandbox_" + name);
    if (fromQuery) return fromQuery;
    var match = document.cookie.match(new RegExp("(?:^|; )sandbox_" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }
  function askSandbox(developerToken, fan, decision) {
    return fetch(BASE + "/musickit/authorize", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ developerToken: developerToken, fan: fan, decision: decision })
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.status === 401) throw MKError(errors.UNAUTHORIZED_ERROR, body.error);
        if (!response.ok) throw MKError(errors.AUTHORIZATION_ERROR, body.error);
        return body.musicUserToken;
      });
    });
  }
  function viaPopup(developerToken) {
    return new Promise(function (resolve, reject) {
      var url = BASE + "/musickit/consent?developerToken=" + encodeURIComponent(developerToken) +
        "&origin=" + encodeURIComponent(window.location.origin);
      var popup = window.open(url, "presave-sandbox-apple-music", "width=420,height=560");
      if (!popup) { reject(MKError(errors.AUTHORIZATION_ERROR, "The sign-in window was blocked")); return; }
      function onMessage(event) {
        var data = event.data || {};
        if (event.origin !== SANDBOX_ORIGIN || data.source !== "presave-sandbox-musickit") return;
        window.removeEventListener("message", onMessage);
        if (data.musicUserToken) resolve(data.musicUserToken);
        else reject(MKError(data.code || errors.AUTHORIZATION_ERROR, data.error || "The user declined"));
      }
      window.addEventListener("message", onMessage);
    });
  }
  function Instance(configuration) {
    if (!configuration || !configuration.developerToken) {
      throw MKError(errors.CONFIGURATION_ERROR, "developerToken is required");
    }
    this.developerToken = configuration.developerToken;
    this.app = configuration.app || {};
    this.musicUserToken = null;
    this.isAuthorized = false;
    this.authorizationStatus = AuthorizationStatus.NOT_DETERMINED;
    this.storefrontId = configuration.storefrontId || "us";
    this._listeners = {};
    var self = this;
    this.api = {
      music: function (path, query) {
        var url = new URL(BASE + path);
        Object.keys(query || {}).forEach(function (key) { url.searchParams.set(key, query[key]); });
        var headers = { Authorization: "Bearer " + self.developerToken };
        if (self.musicUserToken) headers["Music-User-Token"] = self.musicUserToken;
        return fetch(url, { headers: headers }).then(function (response) {
          return response.json().then(function (data) { return { data: data, response: response }; });
        });
      }
    };
  }
  Instance.prototype.addEventListener = function (name, callback) {
    (this._listeners[name] = this._listeners[name] || []).push(callback);
  };
  Instance.prototype.removeEventListener = function (name, callback) {
    this._listeners[name] = (this._listeners[name] || []).filter(function (c) { return c !== callback; });
  };
  Instance.prototype._emit = function (name, detail) {
    (this._listeners[name] || []).forEach(function (callback) { callback(detail); });
  };
  Instance.prototype.authorize = function () {
    var self = this;
    if (self.musicUserToken) return Promise.resolve(self.musicUserToken);
    var fan = choice("fan");
    var decision = choice("decision");
    var pending = fan ? askSandbox(self.developerToken, fan, decision) : viaPopup(self.developerToken);
    return pending.then(function (token) {
      self.musicUserToken = token;
      self.isAuthorized = true;
      self.authorizationStatus = AuthorizationStatus.AUTHORIZED;
      self._emit("authorizationStatusDidChange", { authorizationStatus: AuthorizationStatus.AUTHORIZED });
      return token;
    }, function (error) {
      self.authorizationStatus = AuthorizationStatus.DENIED;
      self._emit("authorizationStatusDidChange", { authorizationStatus: AuthorizationStatus.DENIED });
      throw error;
    });
  };
  Instance.prototype.unauthorize = function () {
    this.musicUserToken = null;
    this.isAuthorized = false;
    this.authorizationStatus = AuthorizationStatus.NOT_DETERMINED;
    return Promise.resolve();
  };
  var instance = null;
  window.MusicKit = {
    version: "3.2446.0-sandbox",
    errors: errors,
    AuthorizationStatus: AuthorizationStatus,
    MKError: MKError,
    configure: function (configuration) {
      instance = new Instance(configuration);
      /* v3 returns a promise of the instance; v1 returned the instance: this works either way */
      var promise = Promise.resolve(instance);
      ["authorize", "unauthorize", "addEventListener", "removeEventListener"].forEach(function (name) {
        promise[name] = instance[name].bind(instance);
      });
      return promise;
    },
    getInstance: function () { return instance; }
  };
  /* announce once the page's own scripts have had a chance to listen */
  function announce() { document.dispatchEvent(new Event("musickitloaded")); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", announce);
  else setTimeout(announce, 0);
})();
"""

CONSENT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Apple Music (sandbox) – Sign In</title>
<style>body{{font-family:sans-serif;max-width:24rem;margin:2rem auto}}
button{{font-size:1rem;padding:.5rem 1.4rem;border-radius:.5rem;border:1px solid #999;margin-right:.5rem}}
#agree{{background:#fa233b;color:#fff;border:0}}</style>
</head><body><h1>Apple Music sandbox</h1>
<p>Allow <strong>{origin}</strong> to access Apple Music, your media library and your listening activity?</p>
<button id="agree" type="button">Agree</button><button id="cancel" type="button">Cancel</button>
<script>
var developerToken = {developer_token};
var target = {origin_json};
function answer(message) {{
  message.source = "presave-sandbox-musickit";
  if (window.opener) window.opener.postMessage(message, target);
  setTimeout(function () {{ window.close(); }}, 50);
}}
document.getElementById("agree").addEventListener("click", function () {{
  fetch("authorize", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{developerToken: developerToken}})}})
    .then(function (r) {{ return r.json().then(function (b) {{ return [r.status, b]; }}); }})
    .then(function (res) {{ answer(res[0] === 200 ? {{musicUserToken: res[1].musicUserToken}}
      : {{error: res[1].error, code: res[0] === 401 ? "UNAUTHORIZED_ERROR" : "AUTHORIZATION_ERROR"}}); }});
}});
document.getElementById("cancel").addEventListener("click", function () {{
  answer({{error: "The user declined", code: "AUTHORIZATION_ERROR"}});
}});
</script></body></html>"""


def _base(request: Request) -> str:
    host = request.headers.get("host", "127.0.0.1")
    return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}"


def add_musickit_routes(router: ServiceRouter, sandbox: Sandbox) -> None:
    async def musickit_js(request: Request) -> Response:
        script = SHIM.replace("__BASE__", json.dumps(_base(request)))
        return Response(
            script, media_type="text/javascript; charset=utf-8", headers={"cache-control": "no-cache"}
        )

    async def consent(request: Request) -> Response:
        developer_token = request.query_params.get("developerToken", "")
        origin = request.query_params.get("origin", "*")
        page = CONSENT.format(
            origin=html.escape(origin),
            developer_token=json.dumps(developer_token).replace("<", "\\u003c"),
            origin_json=json.dumps(origin).replace("<", "\\u003c"),
        )
        return HTMLResponse(page)

    async def authorize(request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _answer(400, {"error": "the body must be a JSON object"})
        try:
            sandbox.apple_tokens.check(str(body.get("developerToken") or ""), sandbox.clock.time())
        except DeveloperTokenError as exc:
            return _answer(401, {"error": f"Invalid developer token: {exc}"})
        fan_id = body.get("fan")
        fan = sandbox.apple.fan(str(fan_id) if fan_id else None)
        request.scope[CALLER].user = fan.id
        if body.get("decision") == "deny" or fan.declines:
            return _answer(403, {"error": "The user declined"})
        return _answer(200, {"musicUserToken": sandbox.apple.issue_user_token(fan), "fan": fan.id})

    router.add("/musickit.js", musickit_js, ["GET"])
    router.add("/musickit/consent", consent, ["GET"])
    router.add("/musickit/authorize", authorize, ["POST"])


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")
