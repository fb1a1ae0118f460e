/* Herald web, the follower's pages: live updates, read marking and push subscription.
 *
 * Live: the page asks web for a stream URL (a single-use feed ticket) and opens it with
 * EventSource. Stream events are used for their ids only: the page fetches the
 * server-rendered (escaped) fragment of a post or of the updates list, removes a deleted
 * post, and writes counts with textContent. Stream data is never inserted as HTML.
 * Read marking: posts that come into view are reported to `/seen` in small batches
 * (views, and the read marker of each channel); the container's `data-read-through`
 * then holds the highest seq acknowledged.
 */
(function () {
  "use strict";

  var BATCH_DELAY_MS = 400;
  var REFRESH_DELAY_MS = 250;
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 30000;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: body === undefined ? "{}" : JSON.stringify(body)
    });
  }

  /* ---- read marking ---- */
  var sent = new Set();
  var pending = [];
  var flushTimer = null;
  var observer = null;

  function seenContainer() {
    return document.querySelector("[data-seen-url]");
  }

  function queueSeen(el) {
    var id = el.dataset.postId;
    if (!id || sent.has(id)) {
      return;
    }
    sent.add(id);
    pending.push({ channel_id: el.dataset.channelId, post_id: id, seq: Number(el.dataset.seq) });
    if (!flushTimer) {
      flushTimer = setTimeout(flushSeen, BATCH_DELAY_MS);
    }
  }

  function flushSeen() {
    flushTimer = null;
    var container = seenContainer();
    if (!container || !pending.length) {
      return;
    }
    var batch = pending.splice(0, 100);
    postJson(container.dataset.seenUrl, { items: batch }).then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      var highest = Number(container.dataset.readThrough || 0);
      batch.forEach(function (item) {
        highest = Math.max(highest, item.seq);
      });
      container.dataset.readThrough = String(highest);
    }).catch(function () {
      // Seen again later, reported again then.
      batch.forEach(function (item) { sent.delete(item.post_id); });
    });
    if (pending.length) {
      flushTimer = setTimeout(flushSeen, BATCH_DELAY_MS);
    }
  }

  function observePosts(root) {
    if (!seenContainer() || !("IntersectionObserver" in window)) {
      return;
    }
    if (!observer) {
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          // Half of it in view, or half the screen filled by it (a tall post).
          var half = entry.intersectionRatio >= 0.5 ||
            entry.intersectionRect.height >= window.innerHeight / 2;
          if (entry.isIntersecting && half) {
            queueSeen(entry.target);
          }
        });
      }, { threshold: [0, 0.25, 0.5, 1] });
    }
    var posts = root.matches && root.matches(".post[data-post-id]") ?
      [root] : root.querySelectorAll(".post[data-post-id]");
    Array.prototype.forEach.call(posts, function (el) { observer.observe(el); });
  }

  /* ---- live updates ---- */
  var refreshTimers = {};

  function refreshLater(el, url, select) {
    if (refreshTimers[el.id]) {
      return;
    }
    refreshTimers[el.id] = setTimeout(function () {
      delete refreshTimers[el.id];
      var options = { target: "#" + el.id, swap: select ? "outerHTML" : "innerHTML" };
      if (select) {
        options.select = select;
      }
      htmx.ajax("GET", url, options);
    }, REFRESH_DELAY_MS);
  }

  function fragmentUrl(posts, data) {
    return "/fragments/post/" + encodeURIComponent(data.channel_id) + "/" + Number(data.seq) +
      (posts.dataset.timeline ? "?with_channel=true" : "");
  }

  function findPost(postId) {
    return document.getElementById("post-" + postId);
  }

  var inserting = new Set();

  function upsertPost(posts, data) {
    var existing = findPost(data.post_id);
    if (existing) {
      htmx.ajax("GET", fragmentUrl(posts, data), { target: existing, swap: "outerHTML" });
      return;
    }
    // An edit of a post this page does not show, or a page of one post: nothing to add.
    if (data.edited_at || posts.dataset.single || inserting.has(data.post_id)) {
      return;
    }
    var first = posts.querySelector(".post[data-seq]");
    if (!posts.dataset.timeline && first && Number(first.dataset.seq) > Number(data.seq)) {
      return;
    }
    inserting.add(data.post_id);
    htmx.ajax("GET", fragmentUrl(posts, data), { target: posts, swap: "afterbegin" }).then(function () {
      var empty = posts.querySelector(".empty");
      if (empty && posts.querySelector(".post")) {
        empty.remove();
      }
    }).finally(function () { inserting.delete(data.post_id); });
  }

  function setText(el, value) {
    if (el) {
      el.textContent = String(Number(value) || 0);
    }
  }

  function updateCounters(posts, data) {
    var el = findPost(data.post_id);
    if (!el) {
      return;
    }
    var reactions = data.reactions || {};
    var buttons = el.querySelectorAll("[data-emoji]");
    var shown = {};
    Array.prototype.forEach.call(buttons, function (button) {
      shown[button.dataset.emoji] = true;
      setText(button.querySelector(".count"), reactions[button.dataset.emoji]);
    });
    var missing = Object.keys(reactions).some(function (emoji) {
      return reactions[emoji] > 0 && !shown[emoji];
    });
    var votes = data.votes || {};
    var total = 0;
    Object.keys(votes).forEach(function (key) { total += Number(votes[key]) || 0; });
    Array.prototype.forEach.call(el.querySelectorAll("[data-vote-count]"), function (count) {
      setText(count, votes[count.dataset.voteCount]);
    });
    Array.prototype.forEach.call(el.querySelectorAll("progress[data-vote-bar]"), function (bar) {
      bar.max = Math.max(total, 1);
      bar.value = Number(votes[bar.dataset.voteBar]) || 0;
    });
    setText(el.querySelector("[data-vote-total]"), total);
    setText(el.querySelector("[data-views]"), data.views);
    if (missing) {
      // An emoji this post does not show yet: its fragment has it.
      htmx.ajax("GET", fragmentUrl(posts, data), { target: el, swap: "outerHTML" });
    }
  }

  function trim(posts, data) {
    Array.prototype.forEach.call(posts.querySelectorAll(".post[data-seq]"), function (el) {
      if (el.dataset.channelId === data.channel_id && Number(el.dataset.seq) <= Number(data.up_to_seq)) {
        el.remove();
      }
    });
  }

  function refreshAll() {
    var updates = document.getElementById("updates");
    if (updates) {
      refreshLater(updates, updates.dataset.refreshUrl);
    }
    var posts = document.getElementById("posts");
    if (posts && !posts.dataset.single) {
      refreshLater(posts, window.location.href, "#posts");
    }
  }

  function handle(name, raw) {
    if (name === "resync") {
      refreshAll();
      return;
    }
    var data;
    try {
      data = JSON.parse(raw);
    } catch (e) {
      return;
    }
    var updates = document.getElementById("updates");
    if (updates && name !== "counters") {
      refreshLater(updates, updates.dataset.refreshUrl);
    }
    var posts = document.getElementById("posts");
    if (!posts || (posts.dataset.channelId && posts.dataset.channelId !== data.channel_id)) {
      return;
    }
    if (name === "post") {
      upsertPost(posts, data);
    } else if (name === "post_deleted") {
      var gone = findPost(data.post_id);
      if (gone) {
        gone.remove();
      }
    } else if (name === "counters") {
      updateCounters(posts, data);
    } else if (name === "history_trimmed") {
      trim(posts, data);
    }
  }

  var lastEventId = null;
  var retryMs = RETRY_MIN_MS;
  var everOpened = false;

  function reconnectLater() {
    document.documentElement.dataset.live = "closed";
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function connect() {
    postJson("/live/ticket").then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    }).then(function (ticket) {
      var url = ticket.url + (lastEventId ? "&last_event_id=" + encodeURIComponent(lastEventId) : "");
      var source = new EventSource(url);
      source.addEventListener("open", function () {
        retryMs = RETRY_MIN_MS;
        if (everOpened) {
          refreshAll(); // whatever happened while the stream was down
        }
        everOpened = true;
        document.documentElement.dataset.live = "open";
      });
      ["post", "post_deleted", "counters", "history_trimmed", "resync"].forEach(function (name) {
        source.addEventListener(name, function (event) {
          if (event.lastEventId) {
            lastEventId = event.lastEventId;
          }
          handle(name, event.data);
        });
      });
      // A ticket opens one stream: every reconnect asks for a new one.
      source.addEventListener("error", function () {
        source.close();
        reconnectLater();
      });
    }).catch(reconnectLater);
  }

  /* ---- push subscription (notification settings) ---- */
  function keyBytes(base64url) {
    var padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4);
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function setUpPush(settings) {
    var button = document.getElementById("push-enable");
    var status = document.getElementById("push-status");
    function say(text) { status.textContent = text; }
    if (!button || !status) {
      return;
    }
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      button.disabled = true;
      say("This browser cannot receive notifications.");
      return;
    }
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (subscription) {
        say("Notifications are on for this browser.");
      }
    }).catch(function () {});
    button.addEventListener("click", function () {
      button.disabled = true;
      say("Turning notifications on…");
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") {
          throw new Error("Notifications are blocked for this site: allow them in the browser's settings.");
        }
        return navigator.serviceWorker.ready;
      }).then(function (registration) {
        return registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(settings.dataset.vapidKey)
        });
      }).then(function (subscription) {
        return postJson(settings.dataset.subscribeUrl, subscription.toJSON());
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body.message || "The subscription was refused.");
          }
        });
      }).then(function () {
        say("Notifications are on for this browser.");
        htmx.ajax("GET", window.location.pathname, { target: "#subscriptions", select: "#subscriptions", swap: "outerHTML" });
      }).catch(function (error) {
        say(error && error.message ? error.message : "Notifications could not be turned on.");
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  function start() {
    htmx.onLoad(observePosts);
    // A stream only where something on the page follows it (an account may hold only a
    // few streams open at once).
    var follows = document.getElementById("updates") || document.getElementById("posts");
    if (document.querySelector("[data-live]") && follows && "EventSource" in window) {
      connect();
    }
    var settings = document.getElementById("push-settings");
    if (settings && settings.dataset.vapidKey) {
      setUpPush(settings);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
