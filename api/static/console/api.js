// The console's one way to the API: a bearer token on every call, one quiet refresh on a
// 401 and a retry, problem+json turned into an Error that carries the problem, and the
// ETag/If-Match pair that edits need. The access token lives in memory only; the refresh
// token in sessionStorage (gone with the tab).

const REFRESH_KEY = "diaspor.console.refresh";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem; // {type, title, status, detail, reason, ...}
    this.reason = problem.reason || null;
  }
}

async function problemOf(r) {
  const type = r.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await r.json();
    } catch {
      /* fall through to a bare problem */
    }
  }
  return { title: r.statusText || `HTTP ${r.status}`, status: r.status };
}

export function createApi({ onSignedOut } = {}) {
  let access = null;
  let refreshing = null;

  function refreshToken() {
    return sessionStorage.getItem(REFRESH_KEY);
  }

  function keep(pair) {
    access = pair.access_token;
    sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  }

  function forget() {
    access = null;
    sessionStorage.removeItem(REFRESH_KEY);
  }

  async function form(path, fields) {
    const r = await fetch(path, {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(fields),
    });
    if (!r.ok) throw new ApiError(r.status, await problemOf(r));
    return r.json();
  }

  /** Trades the refresh token for a new pair; one at a time, shared by concurrent callers. */
  function refresh() {
    const token = refreshToken();
    if (!token) return Promise.resolve(false);
    if (!refreshing) {
      refreshing = form("/api/v1/auth/refresh", { refresh_token: token })
        .then((pair) => {
          keep(pair);
          return true;
        })
        .catch(() => {
          forget();
          return false;
        })
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  async function send(method, path, opts, retried) {
    const headers = { Accept: "application/json", ...(opts.headers || {}) };
    if (access) headers.Authorization = `Bearer ${access}`;
    if (opts.ifMatch) headers["If-Match"] = opts.ifMatch;
    let body = opts.body;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    const r = await fetch(path, { method, headers, body });
    if (r.status === 401 && !retried && (await refresh())) {
      return send(method, path, opts, true);
    }
    if (r.status === 401 && onSignedOut) onSignedOut();
    if (!r.ok) throw new ApiError(r.status, await problemOf(r));
    return r;
  }

  async function call(method, path, opts = {}) {
    const r = await send(method, path, opts, false);
    if (opts.raw) return r;
    if (r.status === 204 || r.status === 202 && !r.headers.get("content-type")) return null;
    const type = r.headers.get("content-type") || "";
    return type.includes("json") ? r.json() : r.text();
  }

  return {
    call,
    get: (path, opts) => call("GET", path, opts),
    post: (path, json, opts = {}) => call("POST", path, { ...opts, json }),
    put: (path, body, opts = {}) => call("PUT", path, { ...opts, body }),
    patch: (path, json, opts = {}) => call("PATCH", path, { ...opts, json }),
    del: (path, opts) => call("DELETE", path, opts),

    /** Every item of a paged list (`items` and `next`), following the pages. */
    async all(path) {
      let items = [];
      for (let url = path; url; ) {
        const page = await call("GET", url);
        items = items.concat(page.items);
        url = page.next;
      }
      return items;
    },

    /** GET with its ETag, for an edit that must say which version it changes. */
    async getWithEtag(path) {
      const r = await send("GET", path, {}, false);
      return { data: await r.json(), etag: r.headers.get("etag") };
    },

    /** PATCH with If-Match; answers the new body and ETag. */
    async patchIfMatch(path, json, etag) {
      const r = await send("PATCH", path, { json, ifMatch: etag }, false);
      return { data: await r.json(), etag: r.headers.get("etag") };
    },

    async signIn(username, password) {
      keep(await form("/api/v1/auth/token", { grant_type: "password", username, password }));
    },

    /** On load: a refresh token kept in this tab signs in again without the password. */
    restore: () => refresh(),

    async signOut() {
      const token = refreshToken();
      forget();
      if (token) {
        await fetch("/api/v1/auth/logout", {
          method: "POST",
          body: new URLSearchParams({ refresh_token: token }),
        }).catch(() => null);
      }
    },

    /** The current access token (tus uploads set it on each request themselves). */
    token: () => access,
    refresh,
  };
}
