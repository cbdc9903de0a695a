/* Web Push on the profile page (templates/auth/_push_settings.html, docs/push.md):
   "Turn on notifications" registers /sw.js, asks for permission, subscribes with the
   server's VAPID key and hands the subscription to the server; "Turn off" undoes both.
   Where the browser cannot (iPhone outside a home-screen app, old browsers) it explains. */
(function () {
  "use strict";

  function section() {
    return document.getElementById("push-settings");
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function isIOS() {
    return /iPhone|iPad|iPod/.test(navigator.userAgent) ||
      (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }

  function deviceName() {
    var ua = navigator.userAgent;
    var device = isIOS() ? "iPhone or iPad" : /Android/.test(ua) ? "Android" : "Computer";
    var browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox"
      : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "a browser";
    return browser + " on " + device;
  }

  function show(state) {
    var root = section();
    root.querySelectorAll("[data-push-state]").forEach(function (block) {
      block.hidden = block.getAttribute("data-push-state") !== state;
    });
  }

  function say(text) {
    var status = section().querySelector("[data-push-status]");
    status.textContent = text;
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function registration() {
    var root = section();
    return navigator.serviceWorker.register(root.getAttribute("data-worker-url"), { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; });
  }

  function post(url, fields) {
    var body = new URLSearchParams(fields);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
      body: body,
    }).then(function (response) {
      return response.text().then(function (html) {
        if (!response.ok) {
          var message = new DOMParser().parseFromString(html, "text/html").querySelector("[role=alert]");
          throw new Error(message ? message.textContent.trim() : "The server refused (" + response.status + ").");
        }
        return html;
      });
    });
  }

  function replaceWith(html) {
    var root = section();
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.firstElementChild;
    root.replaceWith(fresh);
    start();
  }

  function turnOn(button) {
    var root = section();
    button.disabled = true;
    say("Asking this browser for permission…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        show(permission === "denied" ? "denied" : "off");
        say(permission === "denied" ? "" : "Notifications were not allowed. Try again when you're ready.");
        button.disabled = false;
        return null;
      }
      return registration().then(function (reg) {
        return reg.pushManager.getSubscription().then(function (existing) {
          return existing || reg.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(root.getAttribute("data-vapid-key")),
          });
        });
      }).then(function (subscription) {
        var json = subscription.toJSON();
        var previews = root.querySelector("[name=previews]");
        return post(root.getAttribute("data-subscribe-url"), {
          endpoint: json.endpoint,
          p256dh: json.keys.p256dh,
          auth: json.keys.auth,
          previews: previews && previews.checked ? "y" : "",
          device: deviceName(),
        });
      }).then(replaceWith);
    }).catch(function (error) {
      button.disabled = false;
      say("Notifications could not be turned on: " + (error && error.message ? error.message : error));
    });
  }

  function turnOff(button) {
    var root = section();
    button.disabled = true;
    registration().then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) {
        return "";
      }
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return post(root.getAttribute("data-unsubscribe-url"), { endpoint: endpoint });
      });
    }).then(function (html) {
      if (html) {
        replaceWith(html);
      } else {
        show("off");
      }
    }).catch(function (error) {
      button.disabled = false;
      say("Notifications could not be turned off: " + (error && error.message ? error.message : error));
    });
  }

  function start() {
    var root = section();
    if (!root) {
      return;
    }
    if (!supported()) {
      show(isIOS() ? "ios" : "unsupported");
      return;
    }
    if (Notification.permission === "denied") {
      show("denied");
      return;
    }
    var known = JSON.parse(root.getAttribute("data-known-endpoints") || "[]");
    navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg ? reg.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      show(subscription && known.indexOf(subscription.endpoint) !== -1 ? "on" : "off");
    }).catch(function () {
      show("off");
    });
  }

  document.addEventListener("click", function (event) {
    var on = event.target.closest("[data-push-on]");
    var off = event.target.closest("[data-push-off]");
    if (on) {
      turnOn(on);
    } else if (off) {
      turnOff(off);
    }
  });
  document.addEventListener("DOMContentLoaded", start);
})();
