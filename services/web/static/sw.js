/* Herald service worker: installability and an offline shell.
 *
 * Pages are always fetched from the network (they are personal and live); when the
 * network fails, a navigation gets the cached offline page. Versioned static assets
 * (`/static/…?v=hash`) are served cache-first: their URL changes with their content.
 * Push handlers are added below the shell.
 */
"use strict";

const SHELL_CACHE = "herald-shell-v1";
const OFFLINE_URL = "/offline";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) => cache.add(new Request(OFFLINE_URL, { cache: "reload" })))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== SHELL_CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
    return;
  }
  if (url.pathname.startsWith("/static/") && url.searchParams.has("v")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
  }
});

/* --- push (follower notifications) --- */
/* A push from Herald's push service is `{type: "post", channel_id, channel_name, post_id,
 * seq, preview, priority, expires_at}` (never an account id). It shows the channel's name
 * and the preview as text; a click opens the post's page, `/c/{channel_id}/{seq}`, in a
 * window of this site (reused when one is open) or a new one. */

function postUrl(data) {
  if (!data || !data.channel_id || !Number.isInteger(data.seq)) {
    return "/";
  }
  return `/c/${encodeURIComponent(data.channel_id)}/${data.seq}`;
}

self.addEventListener("push", (event) => {
  let data = null;
  try {
    data = event.data ? event.data.json() : null;
  } catch (error) {
    data = null;
  }
  const post = data && data.type === "post" ? data : null;
  // Every push must show a notification (userVisibleOnly): one we cannot read says so.
  const title = post && typeof post.channel_name === "string" ? post.channel_name : "Herald";
  const body = post && typeof post.preview === "string" && post.preview ? post.preview : "New post";
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      tag: post && post.post_id ? String(post.post_id) : undefined,
      icon: "/static/icons/icon-192.png",
      data: { url: postUrl(post) },
      requireInteraction: Boolean(post && post.priority === "alert"),
    })
  );
});

async function openPost(path) {
  const url = new URL(path, self.location.origin).href;
  // A window this worker controls can be sent to the post; otherwise open a new one.
  const windows = await self.clients.matchAll({ type: "window" });
  for (const client of windows) {
    try {
      const shown = await client.navigate(url);
      // Focus needs the click's user activation; the page is shown either way.
      await (shown || client).focus().catch(() => undefined);
      return;
    } catch (error) {
      // Not navigable (closing, another site's page): try the next one.
    }
  }
  await self.clients.openWindow(url);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const path = event.notification.data && event.notification.data.url;
  // Only this site's pages: a notification never sends the browser elsewhere.
  const safe = typeof path === "string" && path.startsWith("/") && !path.startsWith("//") ? path : "/";
  event.waitUntil(openPost(safe));
});
