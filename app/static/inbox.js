// The inbox thread reads like a chat: it opens scrolled to the newest text and stays at
// the bottom when a poll brings a new one, unless the person scrolled up to read.
(function () {
  "use strict";
  var NEAR = 80;
  var stick = true;

  function thread() { return document.getElementById("thread-messages"); }

  function toBottom() {
    var box = thread();
    if (box) { box.scrollTop = box.scrollHeight; }
  }

  document.addEventListener("scroll", function (event) {
    var box = thread();
    if (box && event.target === box) {
      stick = box.scrollHeight - box.scrollTop - box.clientHeight < NEAR;
    }
  }, true);

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.elt;
    if (target && (target.id === "thread-messages" || target.id === "conversation" || target.id === "reply-box")) {
      if (stick || target.id !== "thread-messages") { toBottom(); }
    }
  });
  document.addEventListener("DOMContentLoaded", toBottom);
})();
