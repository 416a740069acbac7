// Asset ids are only known on the device, so this page cannot be prerendered: the static build serves it
// through the 200.html fallback (and the service worker, offline), which boots the client router.
export const prerender = false;
