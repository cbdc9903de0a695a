// Live SMS segment counters. Any <textarea data-segment-counter="#output-id"> shows
// "42 characters · 1 segment · GSM-7" in the element it names, updated as you type.
// Counting is the same as app/sms/segments.py (keep the two in step): GSM-7 160/153
// septets (extended characters count 2, never split), UCS-2 70/67 UTF-16 code units
// (surrogate pairs never split).
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€\f";

  function count(chars, costOf, single, per) {
    var units = 0;
    chars.forEach(function (c) { units += costOf(c); });
    if (units === 0) { return { units: 0, segments: 0 }; }
    if (units <= single) { return { units: units, segments: 1 }; }
    var segments = 1, used = 0;
    chars.forEach(function (c) {
      var cost = costOf(c);
      if (used + cost > per) { segments += 1; used = 0; }
      used += cost;
    });
    return { units: units, segments: segments };
  }

  function info(text) {
    var chars = Array.from(text || "");
    var nonGsm = [];
    chars.forEach(function (c) {
      if (BASIC.indexOf(c) === -1 && EXTENDED.indexOf(c) === -1 && nonGsm.indexOf(c) === -1) {
        nonGsm.push(c);
      }
    });
    var result;
    if (nonGsm.length === 0) {
      result = count(chars, function (c) { return EXTENDED.indexOf(c) === -1 ? 1 : 2; }, 160, 153);
      result.encoding = "GSM-7";
    } else {
      result = count(chars, function (c) { return c.length; }, 70, 67);
      result.encoding = "UCS-2";
    }
    result.characters = chars.length;
    result.nonGsm = nonGsm;
    return result;
  }

  function summary(result) {
    var text = result.characters + (result.characters === 1 ? " character" : " characters") +
      " · " + result.segments + (result.segments === 1 ? " segment" : " segments") +
      " · " + result.encoding;
    if (result.encoding === "UCS-2") {
      var shown = result.nonGsm.slice(0, 3).map(function (c) {
        return /\s/.test(c) ? "a special space" : "“" + c + "”";
      });
      text += " (because of " + shown.join(", ") + ")";
    }
    return text;
  }

  function update(textarea) {
    var output = document.querySelector(textarea.getAttribute("data-segment-counter"));
    if (!output) { return; }
    // A first text to a number gets " Reply STOP to opt out." appended when it is queued
    // (app/services/first_contact.py): count what the customer will receive.
    var suffix = textarea.getAttribute("data-segment-suffix") || "";
    var result = info(textarea.value ? textarea.value + suffix : "");
    output.textContent = summary(result);
    output.classList.toggle("segment-ucs2", result.encoding === "UCS-2");
  }

  function scan(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("textarea[data-segment-counter]").forEach(update);
    if (scope.matches && scope.matches("textarea[data-segment-counter]")) { update(scope); }
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-segment-counter]")) {
      update(event.target);
    }
  });
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  // Fragments swapped in by htmx (an inbox thread, a reply box) get their counter too.
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
  if (document.readyState !== "loading") { scan(document); }

  window.ProSMSSegments = { info: info, summary: summary, refresh: scan };
})();
