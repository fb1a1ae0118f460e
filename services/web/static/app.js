/* Herald web: what every page needs. No inline script anywhere (the CSP forbids it). */
(function () {
  "use strict";
  // The service worker makes the app installable and gives it an offline shell.
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {
        // No worker (private mode, old browser): the site works without it.
      });
    });
  }
  // Move focus to the message area when htmx puts an error there, for screen readers
  // and keyboard users alike.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "messages" && target.textContent.trim()) {
      target.setAttribute("tabindex", "-1");
      target.focus();
    }
  });
})();
