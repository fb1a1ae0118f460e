/* The admin console's behaviour on top of plain forms (every form works without it):
 * - compose: show the fields of the chosen post type; upload a file as soon as it is
 *   picked, with a progress bar, and keep only its media_id for the form;
 * - a form is submitted once (the server's Idempotency-Key makes a repeat harmless too);
 * - forms with data-confirm ask first; the browser's time zone goes with publish_at.
 * Text from the server is set with textContent, never as HTML. */
(function () {
  "use strict";

  function csrfToken(form) {
    var field = form && form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function showTypeFields(form) {
    var select = form.querySelector("[data-type-select]");
    if (!select) return;
    var type = select.value;
    form.querySelectorAll("[data-for-types]").forEach(function (el) {
      var on = el.getAttribute("data-for-types").split(" ").indexOf(type) >= 0;
      el.hidden = !on;
      el.querySelectorAll("input, textarea, select").forEach(function (input) {
        input.disabled = !on;
      });
    });
  }

  function setupPollOptions(form) {
    var more = form.querySelector("[data-more-options]");
    var extras = form.querySelectorAll("[data-extra-option]");
    if (!more || !extras.length) return;
    extras.forEach(function (el) { el.hidden = true; });
    more.hidden = false;
    more.addEventListener("click", function () {
      var next = form.querySelector("[data-extra-option][hidden]");
      if (next) {
        next.hidden = false;
        next.querySelector("input").focus();
      }
      if (!form.querySelector("[data-extra-option][hidden]")) more.hidden = true;
    });
  }

  function setupUpload(form) {
    var input = form.querySelector("input[type=file][data-upload-url]");
    if (!input) return;
    var mediaId = form.querySelector("[data-media-id]");
    var progress = form.querySelector("progress");
    var status = document.getElementById(input.getAttribute("aria-describedby"));
    var submit = form.querySelector("[type=submit]");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      mediaId.value = "";
      if (!file) return;
      var body = new FormData();
      body.append("file", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", input.getAttribute("data-upload-url"));
      xhr.setRequestHeader("X-CSRF-Token", csrfToken(form));
      xhr.responseType = "json";
      progress.hidden = false;
      progress.value = 0;
      status.textContent = "Uploading…";
      submit.disabled = true;
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) progress.value = Math.round((100 * event.loaded) / event.total);
      });
      xhr.addEventListener("load", function () {
        submit.disabled = false;
        var answer = xhr.response || {};
        if (xhr.status === 200 && answer.media_id) {
          progress.value = 100;
          mediaId.value = answer.media_id;
          // The file is on the server now: the form sends only its id.
          input.value = "";
          status.textContent = "Uploaded " + file.name + " (" + answer.kind + ", " + answer.bytes + " bytes).";
          status.setAttribute("data-uploaded", answer.media_id);
        } else {
          progress.hidden = true;
          status.textContent = "Upload failed: " + (answer.detail || "HTTP " + xhr.status);
        }
      });
      xhr.addEventListener("error", function () {
        submit.disabled = false;
        progress.hidden = true;
        status.textContent = "Upload failed: the connection was lost.";
      });
      xhr.send(body);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-tz-offset]").forEach(function (el) {
      el.value = String(new Date().getTimezoneOffset());
    });
    document.querySelectorAll("form").forEach(function (form) {
      var select = form.querySelector("[data-type-select]");
      if (select) {
        select.addEventListener("change", function () { showTypeFields(form); });
        showTypeFields(form);
      }
      setupPollOptions(form);
      setupUpload(form);
      form.addEventListener("submit", function (event) {
        var question = form.getAttribute("data-confirm");
        if (question && !window.confirm(question)) {
          event.preventDefault();
          return;
        }
        if (form.hasAttribute("data-once")) {
          if (form.getAttribute("data-sent")) {
            event.preventDefault();
            return;
          }
          form.setAttribute("data-sent", "1");
        }
      });
    });
    // Back to a sent form (the browser's page cache): it may be sent again on purpose.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        document.querySelectorAll("form[data-sent]").forEach(function (form) {
          form.removeAttribute("data-sent");
        });
      }
    });
    document.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });
  });
})();
