// Passkey ceremonies (issue 15). Every form marked data-passkey runs one:
//
//   data-passkey="create"  registers a passkey (account page)
//   data-passkey="get"     signs in with one (login page, 2FA step)
//
// On submit the script posts the form's data-passkey-send fields to the
// form's data-passkey-options URL, which answers {publicKey: options} and
// binds the challenge to this browser with a cookie. It hands the options
// to the browser's authenticator, writes the answer as JSON into the
// form's "credential" field and submits the form: the server then answers
// like any form post (a redirect, or the page with an error).
//
// A get form marked data-passkey-conditional also offers the passkeys in
// the autofill of the page's autocomplete="username webauthn" field.
//
// Without WebAuthn the forms stay hidden. The browser's own JSON helpers
// (WebAuthn Level 3) are used where present, base64url by hand elsewhere.
(function () {
  "use strict";

  function b64urlToBuffer(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function bufferToB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBufferIDs(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = b64urlToBuffer(c.id);
      return copy;
    });
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) });
    o.excludeCredentials = withBufferIDs(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.allowCredentials = withBufferIDs(json.allowCredentials);
    return o;
  }

  // credentialJSON is the registration or authentication response as the
  // server reads it (the WebAuthn Level 3 JSON encoding).
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try {
        return cred.toJSON();
      } catch (e) {
        // Some browsers have toJSON but fail on it; build it by hand.
      }
    }
    var r = cred.response;
    var resp = { clientDataJSON: bufferToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      resp.attestationObject = bufferToB64url(r.attestationObject);
      if (typeof r.getTransports === "function") {
        resp.transports = r.getTransports();
      }
    } else {
      resp.authenticatorData = bufferToB64url(r.authenticatorData);
      resp.signature = bufferToB64url(r.signature);
      if (r.userHandle) {
        resp.userHandle = bufferToB64url(r.userHandle);
      }
    }
    var out = {
      id: cred.id,
      rawId: bufferToB64url(cred.rawId),
      type: cred.type,
      response: resp,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    return out;
  }

  function showError(form, msg) {
    var el = form.querySelector("[data-passkey-error]");
    if (!el) {
      return;
    }
    el.textContent = msg || form.getAttribute("data-passkey-failed") || "";
    el.hidden = !el.textContent;
  }

  // fetchOptions posts the form's data-passkey-send fields and returns the
  // publicKey options; a refusal throws with the server's message.
  function fetchOptions(form) {
    var body = new URLSearchParams();
    form.querySelectorAll("[data-passkey-send]").forEach(function (f) {
      body.append(f.name, f.value);
    });
    return fetch(form.getAttribute("data-passkey-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: body,
    }).then(function (res) {
      return res.json().then(
        function (j) {
          if (!res.ok || !j.publicKey) {
            var err = new Error(typeof j.message === "string" ? j.message : "");
            err.name = "ServerRefusal";
            throw err;
          }
          return j.publicKey;
        },
        function () {
          throw new Error("");
        }
      );
    });
  }

  // finish submits the form with the authenticator's answer. The fields
  // that only served the options call (password, code) are not sent again.
  function finish(form, cred) {
    form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(cred));
    var remember = form.querySelector("[data-passkey-remember]");
    var source = document.querySelector("[data-passkey-remember-source]");
    if (remember && source) {
      remember.value = source.checked ? "1" : "";
    }
    form.querySelectorAll("[data-passkey-send]").forEach(function (f) {
      if (f.type !== "hidden") {
        f.disabled = true;
      }
    });
    form.setAttribute("data-passkey-state", "submitting");
    form.submit();
  }

  var pending = null; // the AbortController of the running get() request

  function run(form, conditional) {
    var create = form.getAttribute("data-passkey") === "create";
    if (pending) {
      pending.abort();
      pending = null;
    }
    var controller = null;
    if (!create) {
      controller = new AbortController();
      pending = controller;
    }
    return fetchOptions(form)
      .then(function (json) {
        if (create) {
          return navigator.credentials.create({ publicKey: creationOptions(json) });
        }
        var req = { publicKey: requestOptions(json), signal: controller.signal };
        if (conditional) {
          req.mediation = "conditional";
        }
        return navigator.credentials.get(req);
      })
      .then(function (cred) {
        if (controller && pending === controller) {
          pending = null;
        }
        if (cred) {
          finish(form, cred);
        }
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") {
          return; // replaced by a newer request
        }
        if (conditional) {
          return; // the autofill offer ended; the button still works
        }
        showError(form, err && err.name === "ServerRefusal" ? err.message : "");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) {
      el.hidden = supported;
    });
    if (!supported) {
      return;
    }
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      if (form.getAttribute("data-passkey-ready")) {
        return; // the script is on the page twice
      }
      form.setAttribute("data-passkey-ready", "1");
      form.hidden = false;
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        showError(form, "");
        run(form, false);
      });
      if (form.hasAttribute("data-passkey-conditional") &&
          typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
        PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
          if (ok) {
            run(form, true);
          }
        });
      }
    });
  });
})();
