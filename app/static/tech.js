// The tech page's little bit of plain JS on top of htmx (see app/tech/routes.py).
(function () {
  "use strict";

  // Every htmx answer from /tech carries a fresh CSRF token: keep the page's copies
  // current, so a page left open all day (or a phone that lost its session cookie)
  // does not fail the next tap.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var token = xhr && xhr.getResponseHeader("X-CSRF-Token");
    if (token) {
      document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": token }));
      document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
        input.value = token;
      });
    }
    // A tap that went through clears an old problem message (a background poll does not:
    // the message must stay until the tech acted on it).
    var polled = event.detail.elt && event.detail.elt.hasAttribute("data-poll");
    if (event.detail.successful && !polled && !(xhr && xhr.getResponseHeader("HX-Retarget"))) {
      var box = document.getElementById("tech-problem");
      if (box) { box.innerHTML = ""; }
    }
  });

  // The server sends plain messages for failed requests into #tech-problem (HX-Retarget).
  // htmx does not swap 401/404 answers by itself; these must be shown.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#tech-problem") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A typed reply survives a failed send, a logout and a reload: it is kept in this
  // tab's sessionStorage until the server confirms it was queued.
  var sentDrafts = {};  // draft key -> the words the last send carried
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form[data-draft-key]")) {
      var box = form.querySelector("textarea");
      sentDrafts[form.getAttribute("data-draft-key")] = box ? box.value : "";
    }
  });
  function restoreDrafts(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form[data-draft-key]").forEach(function (form) {
      var key = form.getAttribute("data-draft-key");
      var box = form.querySelector("textarea");
      if (!box) { return; }
      if (form.hasAttribute("data-sent")) {
        // Forget what was sent, not what was typed since: the confirmation is handled
        // a moment after it is swapped in, and the next words may already be there.
        if (sessionStorage.getItem(key) === sentDrafts[key]) { sessionStorage.removeItem(key); }
      } else if (!box.value && sessionStorage.getItem(key)) {
        box.value = sessionStorage.getItem(key);
        box.dispatchEvent(new Event("input", { bubbles: true }));
      }
    });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-draft-key]");
    if (form && event.target.tagName === "TEXTAREA") {
      sessionStorage.setItem(form.getAttribute("data-draft-key"), event.target.value);
    }
  });

  // Bottom sheets (the On My Way ETA chips). The opener is a link to the sheet's own page,
  // which is where a phone without JS goes; here it opens the <dialog> instead. A modal
  // dialog makes the page behind it inert and closes on Escape; Tab is kept inside it too.
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), textarea, select";
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("a[data-sheet]");
    if (opener) {
      var sheet = document.getElementById(opener.getAttribute("data-sheet"));
      if (!sheet || typeof sheet.showModal !== "function") { return; }  // old browser: the page
      event.preventDefault();
      sheet.opener_ = opener;
      sheet.showModal();
      var first = sheet.querySelector(FOCUSABLE);
      if (first) { first.focus(); }
      return;
    }
    var sheetOpen = event.target.closest && event.target.closest("dialog.sheet[open]");
    if (event.target.closest && event.target.closest("[data-sheet-close]") && sheetOpen) {
      sheetOpen.close();
    } else if (event.target.matches && event.target.matches("dialog.sheet[open]")) {
      event.target.close();  // a tap on the backdrop (outside the panel) lands on the dialog
    }
  });
  document.addEventListener("keydown", function (event) {
    var sheet = event.key === "Tab" && event.target.closest && event.target.closest("dialog.sheet[open]");
    if (!sheet) { return; }
    var items = Array.prototype.filter.call(sheet.querySelectorAll(FOCUSABLE), function (el) {
      return el.getClientRects().length > 0;
    });
    if (!items.length) { return; }
    var first = items[0], last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault(); last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault(); first.focus();
    }
  });
  document.addEventListener("close", function (event) {
    var opener = event.target.opener_;
    if (opener && document.contains(opener)) { opener.focus(); }
  }, true);
  // A poll must not swap away an open sheet (and the choice the tech is making).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute("data-poll") && elt.querySelector("dialog[open]")) {
      event.preventDefault();
    }
  });
  // Sent from a sheet: close it (the job page swaps the panel; My day goes to the job).
  document.addEventListener("htmx:afterRequest", function (event) {
    var sheet = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("dialog.sheet[open]");
    if (sheet && event.detail.successful && document.contains(sheet)) { sheet.close(); }
  });
  // A status panel that was just swapped ignores taps for a moment: its next button sits
  // where the last one was, and the second tap of a double tap (wet hands, a glove) must
  // not take the next step too. Keyboard users are not slowed: focus goes to the heading.
  var ARMING_MS = 700;
  // (htmx:load: fired on the new panel as it comes in; afterSwap goes to the old one.)
  document.addEventListener("htmx:load", function (event) {
    var panel = event.target;
    if (!panel || panel.id !== "actions") { return; }
    panel.classList.add("arming");
    window.setTimeout(function () { panel.classList.remove("arming"); }, ARMING_MS);
  });
  // After the panel was swapped, keep keyboard and screen reader users on it.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "actions" &&
        (document.activeElement === document.body || !document.activeElement)) {
      var heading = document.getElementById("actions-heading");
      if (heading) { heading.focus({ preventScroll: true }); }
    }
  });

  // A "done" message at the top of the page ("On My Way: done.") says its piece, then goes
  // by itself; a tap on its button removes it at once. Problems (flash-error: a text that
  // could not go) stay until the tech leaves the page. Without JS every message stays.
  var FLASH_MS = 6000;
  function armActions() {
    // Whatever sat below the message moves up: the status buttons ignore that moment's
    // taps, as after a swap (a thumb already on its way must not land on the next step).
    var panel = document.getElementById("actions");
    if (!panel) { return; }
    panel.classList.add("arming");
    window.setTimeout(function () { panel.classList.remove("arming"); }, ARMING_MS);
  }
  function dismissFlash(flash) {
    if (!document.contains(flash)) { return; }
    armActions();
    flash.remove();
  }
  function setUpFlashes(root) {
    root.querySelectorAll("#flashes .flash-success:not([data-dismissible])").forEach(function (flash) {
      flash.setAttribute("data-dismissible", "");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "flash-dismiss";
      button.setAttribute("aria-label", "Dismiss: " + flash.textContent.trim());
      button.textContent = "\u00d7";
      button.addEventListener("click", function () {
        // Focus stays where the message was (not lost to <body>): Tab goes on from there.
        var box = flash.parentNode;
        dismissFlash(flash);
        box.setAttribute("tabindex", "-1");
        box.focus({ preventScroll: true });
      });
      flash.appendChild(button);
      (function wait() {
        window.setTimeout(function () {
          // Not from under a keyboard user who is on its button (or a hidden tab's eyes).
          if (flash.contains(document.activeElement) || document.visibilityState !== "visible") {
            wait();
          } else {
            dismissFlash(flash);
          }
        }, FLASH_MS);
      })();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUpFlashes(document); });
  document.addEventListener("DOMContentLoaded", function () { restoreDrafts(document); });
  document.addEventListener("htmx:load", function (event) { restoreDrafts(event.target); });
})();
