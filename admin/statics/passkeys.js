// Passkeys: the browser's half of registering one (Your account) and of signing in with
// one (the sign-in page). The server makes the options and checks the answers; this only
// carries them between it and navigator.credentials, as JSON with base64url bytes.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var register = document.querySelector(".cms-passkey-register");
  var signIn = document.querySelector(".cms-passkey-sign-in");
  if (!meta || (!register && !signIn)) { return; }
  var supported = !!(window.PublicKeyCredential && navigator.credentials);
  var unsupported = document.querySelector(".cms-passkey-unsupported");
  if (!supported) { return; }  // the forms stay hidden; the note says why
  if (unsupported) { unsupported.hidden = true; }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "X-CSRF-Token": meta.getAttribute("content"),
        "Content-Type": "application/json",
        "Accept": "application/json"
      },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) { throw new Error(json.error || "The server refused the request."); }
        return json;
      });
    });
  }

  function described(error) {
    // The browser's own errors when the person cancels or the device refuses.
    if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
      return "Cancelled, or the device did not answer in time.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device has a passkey for this account already.";
    }
    return (error && error.message) || "Passkeys are unavailable right now.";
  }

  function extensions(credential) {
    return credential.getClientExtensionResults ? credential.getClientExtensionResults() : {};
  }

  if (register) {
    var registerState = register.querySelector(".cms-passkey-state");
    register.hidden = false;
    register.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = register.querySelector('input[name="name"]').value;
      var password = register.querySelector('input[name="password"]');
      registerState.textContent = "Follow your browser's prompt…";
      post(register.getAttribute("data-options-url"), { password: password.value }).then(function (options) {
        password.value = "";
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      }).then(function (credential) {
        var response = credential.response;
        return post(register.getAttribute("data-url"), {
          name: name,
          credential: {
            id: credential.id,
            rawId: toText(credential.rawId),
            type: credential.type,
            response: {
              clientDataJSON: toText(response.clientDataJSON),
              attestationObject: toText(response.attestationObject),
              transports: response.getTransports ? response.getTransports() : []
            },
            authenticatorAttachment: credential.authenticatorAttachment || null,
            clientExtensionResults: extensions(credential)
          }
        });
      }).then(function (answer) {
        window.location.assign(answer.redirect);
      }).catch(function (error) { registerState.textContent = described(error); });
    });
  }

  if (signIn) {
    var signInState = signIn.querySelector(".cms-passkey-state");
    signIn.hidden = false;
    signIn.querySelector("button").addEventListener("click", function () {
      signInState.textContent = "";
      post(signIn.getAttribute("data-options-url")).then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      }).then(function (credential) {
        var response = credential.response;
        return post(signIn.getAttribute("data-url"), {
          credential: {
            id: credential.id,
            rawId: toText(credential.rawId),
            type: credential.type,
            response: {
              clientDataJSON: toText(response.clientDataJSON),
              authenticatorData: toText(response.authenticatorData),
              signature: toText(response.signature),
              userHandle: toText(response.userHandle)
            },
            authenticatorAttachment: credential.authenticatorAttachment || null,
            clientExtensionResults: extensions(credential)
          }
        });
      }).then(function (answer) {
        window.location.assign(answer.redirect);
      }).catch(function (error) { signInState.textContent = described(error); });
    });
  }
})();
