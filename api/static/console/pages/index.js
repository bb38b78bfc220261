// Every page of the console: its route (#/<id>), its title in the app catalogue, the API
// operations it needs (the caller must hold every one, from GET /api/v1/auth/me's
// `permissions`), its catalogue under messages/, and its module, loaded when first opened.

export const PAGES = [
  { id: "library", titleKey: "app.nav.library", needs: ["GET /api/v1/media"], messages: "library", module: "./library.js" },
  { id: "on-air", titleKey: "app.nav.onAir", needs: ["GET /api/v1/auth/me"], messages: "onair", module: "./onair.js" },
  { id: "schedule", titleKey: "app.nav.schedule", needs: ["GET /api/v1/manage/entries"], messages: "schedule", module: "./schedule.js" },
  { id: "playlists", titleKey: "app.nav.playlists", needs: ["GET /api/v1/manage/playlists"], messages: "playlists", module: "./playlists.js" },
  { id: "programmes", titleKey: "app.nav.programmes", needs: ["GET /api/v1/manage/programmes"], messages: "programmes", module: "./programmes.js" },
  { id: "audience", titleKey: "app.nav.audience", needs: ["GET /api/v1/reports/audience"], messages: "audience", module: "./audience.js" },
  { id: "me", titleKey: "app.nav.me", needs: ["GET /api/v1/auth/me/stream-key"], messages: "me", module: "./me.js" },
  { id: "admin/users", titleKey: "app.nav.users", needs: ["GET /api/v1/auth/users"], messages: "admin", module: "./admin-users.js" },
  { id: "admin/keys", titleKey: "app.nav.keys", needs: ["GET /api/v1/auth/keys"], messages: "admin", module: "./admin-keys.js" },
  { id: "admin/audit", titleKey: "app.nav.audit", needs: ["GET /api/v1/manage/audit"], messages: "admin", module: "./admin-audit.js" },
];

// Until GET /api/v1/auth/me says `permissions`, the role decides (admin > editor > presenter),
// as the permission matrix in api/auth.py does: admins alone manage users, keys and read the
// audit log; presenters only read; editors change the rest.
const ADMIN_ONLY = ["/api/v1/auth/users", "/api/v1/auth/keys", "/api/v1/manage/audit"];
const EDITORS_ONLY = ["/api/v1/reports/"];

export function roleAllows(role, need) {
  const [method, path] = need.split(" ");
  if (role === "admin") return true;
  if (ADMIN_ONLY.some((p) => path.startsWith(p))) return false;
  if (role === "editor") return true;
  if (EDITORS_ONLY.some((p) => path.startsWith(p))) return false;
  return role === "presenter" && method === "GET";
}

/** Whether the signed-in caller (GET /api/v1/auth/me's answer) may do `need`. */
export function allows(me, need) {
  if (Array.isArray(me.permissions)) return me.permissions.includes(need);
  return roleAllows(me.role, need);
}
