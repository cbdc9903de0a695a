/* ProSMS service worker: shows the Web Push notification of a routed text and opens its
   thread when tapped (docs/push.md). Served as /sw.js so its scope is the whole site.
   It caches nothing: the app needs the network anyway. */
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  // Take the open tabs now, so a tap can reuse (navigate) one of them.
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  var title = data.title || "New text message";
  var options = {
    body: data.body || "Open to read and reply.",
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    // A newer text in the same conversation replaces the older notification.
    tag: data.tag || undefined,
    renotify: Boolean(data.tag),
    data: { url: data.url || "/" },
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

function sameOrigin(url) {
  try {
    return new URL(url, self.location.origin).origin === self.location.origin;
  } catch (error) {
    return false;
  }
}

// Open the thread: focus a tab of this site already open (and take it to the thread),
// or open a new one. Only this site's URLs are opened.
function openThread(url) {
  var target = sameOrigin(url) ? new URL(url, self.location.origin).href : "/";
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (tabs) {
    var exact = tabs.find(function (tab) { return tab.url === target; });
    if (exact) {
      return exact.focus();
    }
    var controlled = tabs.find(function (tab) { return "navigate" in tab && sameOrigin(tab.url); });
    if (controlled) {
      return controlled.navigate(target).then(function (tab) {
        // Focus may be refused (no user gesture); the tab shows the thread all the same.
        return (tab || controlled).focus().catch(function () { return tab; });
      }, function () {
        return self.clients.openWindow(target);
      });
    }
    return self.clients.openWindow(target);
  });
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(openThread((event.notification.data || {}).url || "/"));
});
