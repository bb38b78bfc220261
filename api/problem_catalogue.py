"""Every kind of problem the API answers with, by its `reason`: what it means and what to do.

A problem's `type` is `<base>/problems/<reason>`, and that URL is a page saying what is
written here (`api/routes/problem_pages.py`), so a developer who meets one reads about it
where the error points. tests/test_problem_types.py finds every reason the code can raise
and fails on one missing here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProblemType:
    reason: str
    title: str
    meaning: str
    remedy: str


def _types(*types: ProblemType) -> dict[str, ProblemType]:
    return {t.reason: t for t in types}


CATALOGUE = _types(
    # --- the request itself ---------------------------------------------------------------
    ProblemType(
        "invalid-request",
        "Invalid request",
        "A parameter or a field of the body breaks the API's description: a missing or extra "
        "field, a wrong type, a value out of its range. `errors` lists each one, with where "
        "(`query.limit`, `body.names.az`) and what is wrong.",
        "Correct what `errors` names; /openapi.json describes every parameter and body.",
    ),
    ProblemType(
        "invalid",
        "Invalid request",
        "The request is well formed but its content cannot be accepted as it is.",
        "Read `detail`: it says which value and why.",
    ),
    ProblemType(
        "out-of-range",
        "Invalid request",
        "A number is larger than the API keeps (ids and counts are 64-bit integers), or a "
        "time is further than ten years from today.",
        "Send a number or a time in range.",
    ),
    ProblemType(
        "unknown-time-zone",
        "Invalid request",
        "`tz` is not a time zone of the IANA database.",
        "Send a name such as `Europe/Berlin` or `America/Toronto` (what "
        "`Intl.DateTimeFormat().resolvedOptions().timeZone` gives in a browser).",
    ),
    ProblemType(
        "invalid-country",
        "Invalid request",
        "`country` is not an ISO 3166-1 alpha-2 country code (two letters).",
        "Send the listener's country as two letters, such as `TR`, `DE` or `US` (any case), "
        "or leave `country` out: the relays are then ordered by the country the station's "
        "edge sees, where it says one.",
    ),
    ProblemType(
        "invalid-period",
        "Invalid request",
        "The report's period cannot be counted: `to` is not after `from`, the period holds no "
        "whole UTC hour, it is longer than 400 days, or `month` is not a month (YYYY-MM).",
        "Send `from` before `to`, at most 400 days apart (a report counts whole UTC hours), "
        "or a month such as `2026-11`.",
    ),
    ProblemType(
        "invalid-cursor",
        "Invalid request",
        "The `cursor` is not one this list gave out (from another list, changed, or made up).",
        "Start from the first page, or follow the `next` link a page gives.",
    ),
    ProblemType(
        "malformed-body",
        "Bad request",
        "The body could not be read: not UTF-8 JSON, or a form that cannot be parsed.",
        "Send the body as the operation's `requestBody` describes, with its Content-Type.",
    ),
    ProblemType(
        "method-not-allowed",
        "Method not allowed",
        "This path exists but does not answer this method.",
        "The `Allow` header and /openapi.json list the methods it answers.",
    ),
    ProblemType(
        "not-found",
        "Not found",
        "There is no such thing: an unknown channel, programme, episode, media item, job, "
        "user, key or file, or one no longer published (an on-demand window that closed).",
        "Check the id or slug; keep ids, not file URLs, and ask again for the current URLs.",
    ),
    ProblemType(
        "sunset",
        "Gone",
        "This operation was deprecated and its sunset date has passed (the `Sunset` header "
        "said when): it no longer answers.",
        "Use what `detail` names; the API changelog (/static/api-changelog.md) says more.",
    ),
    ProblemType(
        "http-error",
        "HTTP error",
        "The HTTP layer refused the request before the API's own code ran.",
        "Read `detail`.",
    ),
    # --- credentials and roles ------------------------------------------------------------
    ProblemType(
        "unauthenticated",
        "Authentication required",
        "This operation is for signed-in editors, presenters or admins, and no credential "
        "was sent.",
        "Send `Authorization: Bearer <token>`: an access token from POST /api/v1/auth/token "
        "or an API key.",
    ),
    ProblemType(
        "bad-token",
        "Authentication required",
        "The access token or API key is unknown, expired or revoked.",
        "Refresh the access token (POST /api/v1/auth/refresh), or sign in again.",
    ),
    ProblemType(
        "bad-credentials",
        "Authentication required",
        "Wrong username or password (or stream key): which of the two is not said.",
        "Check both. Repeated failures are throttled (see `login-throttled`).",
    ),
    ProblemType(
        "bad-refresh-token",
        "Authentication required",
        "The refresh token is unknown, expired, already used, or revoked by signing out.",
        "Sign in again with username and password.",
    ),
    ProblemType(
        "not-icecast",
        "Authentication required",
        "Only icecast2, with the credentials set for it, may ask whether a source may go live.",
        "Nothing for a client to do: this route is icecast2's.",
    ),
    ProblemType(
        "forbidden",
        "Forbidden",
        "The credential is valid but its role may not do this (the permission matrix: "
        "listeners read, presenters go live, editors edit, admins manage people and keys).",
        "Ask an admin for a role that may, or use a key with that role.",
    ),
    ProblemType(
        "login-throttled",
        "Too many requests",
        "Too many failed sign-ins from this address or for this username, recently.",
        "Wait the seconds `Retry-After` gives, then try again.",
    ),
    ProblemType(
        "throttled",
        "Refused",
        "Too many failed attempts recently.",
        "Wait, then try again.",
    ),
    ProblemType(
        "jwt-secret",
        "Service unavailable",
        "The station's token signing key is missing or unusable: no token can be made or "
        "checked. Its operator has been told why.",
        "Nothing for a client to do; try again later.",
    ),
    # --- people and keys ------------------------------------------------------------------
    ProblemType(
        "bad-role",
        "Invalid request",
        "There is no such role.",
        "Use listener, presenter, editor or admin.",
    ),
    ProblemType(
        "bad-username",
        "Invalid request",
        "A username is 2-63 lower-case letters, digits, dots, dashes or underscores.",
        "Choose one of that form.",
    ),
    ProblemType(
        "weak-password",
        "Invalid request",
        "The password is too short.",
        "Choose a longer one (`detail` says how long).",
    ),
    ProblemType(
        "username-taken",
        "Invalid request",
        "Someone already has this username.",
        "Choose another.",
    ),
    ProblemType(
        "no-such-user",
        "Not found",
        "There is no user with this username.",
        "GET /api/v1/auth/users lists them (admins).",
    ),
    ProblemType(
        "not-a-person",
        "Forbidden",
        "An API key stands for a program, not a person: it has no stream key or profile.",
        "Sign in as the presenter.",
    ),
    ProblemType(
        "no-stream-key",
        "Not found",
        "This presenter has no stream key yet.",
        "Make one: POST /api/v1/auth/me/stream-key.",
    ),
    # --- editing --------------------------------------------------------------------------
    ProblemType(
        "if-match-required",
        "Precondition required",
        "A change or a deletion must say which version it was made against.",
        "Send `If-Match` with the ETag you read.",
    ),
    ProblemType(
        "stale-version",
        "Precondition failed",
        "Someone changed it since you read it: your `If-Match` names an older version.",
        "Read it again, apply your change to what is there now, and send it with the new ETag.",
    ),
    ProblemType(
        "invalid-schedule",
        "Invalid request",
        "The schedule change is not one the station can air: `detail` says why.",
        "Correct what `detail` names.",
    ),
    ProblemType(
        "schedule-conflict",
        "Conflict",
        "Two hard starts would overlap on one channel. `conflicting` lists the entries in the way.",
        "Move or shorten one of them, or make one a soft start.",
    ),
    ProblemType(
        "frozen",
        "Conflict",
        "The change would touch what has aired, or what airs within the channel's freeze "
        "horizon: the past and the next minutes are not edited.",
        "Change what starts after the horizon.",
    ),
    ProblemType(
        "in-use",
        "Conflict",
        "Something still refers to what was to be deleted (a schedule entry, a playlist, an "
        "episode).",
        "Remove those references first.",
    ),
    ProblemType(
        "media-in-use",
        "Conflict",
        "The media item to be deleted is still used: `used_by` lists, by kind "
        "(`schedule_entries`, `playlists`, `clocks`, `episodes`, `programmes`, `channels`), the "
        "ids of what uses it.",
        "Take it out of those first, then delete it.",
    ),
    ProblemType(
        "nothing-on-air",
        "Conflict",
        "A skip was asked for while nothing is on air to skip: the channel is in a gap "
        "(its slate) at the instant the skip would take effect.",
        "Wait for the next item, or play something now instead.",
    ),
    ProblemType(
        "not-on-tv",
        "Conflict",
        "Skip and play-now were asked of a TV channel. They are for radio channels: the TV "
        "sequencer lays each item's plan once and would obey only from its next item, while "
        "the guide already said otherwise.",
        "Change the TV channel's schedule instead (an entry after its freeze horizon).",
    ),
    ProblemType(
        "media-not-ready",
        "Conflict",
        "The media to play now has not been analysed yet, or its analysis failed: only "
        "ready media airs.",
        "Wait for its analysis (`GET /api/v1/jobs/{job_id}`), or choose a ready item.",
    ),
    ProblemType(
        "media-not-airable",
        "Invalid request",
        "The media to play now does not exist, or the channel cannot air its kind: a radio "
        "channel airs sound alone, a TV channel video.",
        "Choose an audio item for a radio channel, a video for a TV channel.",
    ),
    # --- media ----------------------------------------------------------------------------
    ProblemType(
        "media-error",
        "Unusable media",
        "The file could not be taken into the library.",
        "Read `detail`.",
    ),
    ProblemType(
        "invalid-file-name",
        "Unusable media",
        "The upload's file name cannot be stored (empty, or with path separators or control "
        "characters).",
        "Send the file with a plain name.",
    ),
    ProblemType("empty-file", "Unusable media", "The file is empty.", "Send the file."),
    ProblemType(
        "file-too-large",
        "File too large",
        "The upload is larger than the station takes (DIASPOR_MAX_UPLOAD_BYTES).",
        "Send a smaller file, or ask the operator to raise the limit.",
    ),
    ProblemType(
        "tus-version",
        "Precondition failed",
        "A resumable upload request (`/api/v1/uploads`) did not say `Tus-Resumable: 1.0.0`, the "
        "version of the tus protocol the station speaks.",
        "Send `Tus-Resumable: 1.0.0` (a tus client does); `Tus-Version` names the version.",
    ),
    ProblemType(
        "upload-offset-mismatch",
        "Conflict",
        "The part of a resumable upload was sent for another offset than the bytes the station "
        "has (a part was lost or sent twice), or the upload is whole already.",
        "Ask with `HEAD` for `Upload-Offset` and send from there.",
    ),
    ProblemType(
        "upload-busy",
        "Conflict",
        "Another request is still sending bytes of the same resumable upload.",
        "Send one part at a time; wait a moment and ask with `HEAD` where to go on.",
    ),
    ProblemType(
        "unsupported-content-type",
        "Unsupported media type",
        "The body's `Content-Type` is not the one the operation takes.",
        "Send the part of a resumable upload as `application/offset+octet-stream`.",
    ),
    ProblemType(
        "too-long",
        "Unusable media",
        "The media is longer than the station takes (DIASPOR_MAX_DURATION_S).",
        "Cut it, or ask the operator to raise the limit.",
    ),
    ProblemType(
        "unusable-media",
        "Unusable media",
        "ffmpeg read the file to its end and it cannot be aired as it is.",
        "Export it again from its source.",
    ),
    ProblemType(
        "not-media",
        "Unusable media",
        "The file is not audio or video that ffmpeg knows.",
        "Send an audio or video file.",
    ),
    ProblemType(
        "truncated-media",
        "Unusable media",
        "The file ends before its own headers say it does: it was cut off in transfer.",
        "Send the whole file again.",
    ),
    ProblemType(
        "corrupt-media",
        "Unusable media",
        "The file has damaged parts that do not decode.",
        "Export it again from its source.",
    ),
    ProblemType(
        "analysis-timeout",
        "Unusable media",
        "Analysis took longer than a file of its length should, and was stopped.",
        "It is tried again by itself; if it fails again, read the job's error.",
    ),
    ProblemType(
        "tool-killed",
        "Unusable media",
        "ffmpeg was stopped by a signal while reading the file (no verdict on the file).",
        "It is tried again by itself.",
    ),
    ProblemType(
        "tool-missing",
        "Service unavailable",
        "The station cannot find ffmpeg or ffprobe. Its operator has been told.",
        "Nothing for a client to do; try again later.",
    ),
    ProblemType(
        "storage-error",
        "Service unavailable",
        "The station's storage could not be read or written. Its operator has been told.",
        "Try again later; nothing was half-written.",
    ),
    ProblemType(
        "packaging-failed",
        "Unusable media",
        "Packaging the video into HLS did not produce a sound package; nothing of it was "
        "published, and what was on air before stays.",
        "Read the job's error; package again once the cause is fixed.",
    ),
    # --- live -----------------------------------------------------------------------------
    ProblemType(
        "live-refused",
        "Refused",
        "The source may not go live now.",
        "Check the stream key and the slot.",
    ),
    ProblemType(
        "not-your-slot",
        "Refused",
        "The presenter has no slot on this channel now.",
        "Go live within your slot (a few seconds' margin either side).",
    ),
    ProblemType(
        "icecast-auth-off",
        "Not found",
        "icecast2's URL authentication is not set up on this station.",
        "Set DIASPOR_ICECAST_AUTH_SECRET here and in the live mount of icecast.xml.",
    ),
    # --- the station's own state ----------------------------------------------------------
    ProblemType(
        "error",
        "Service unavailable",
        "The station cannot answer this now; its operator has been told why.",
        "Try again later.",
    ),
    ProblemType(
        "icecast-admin",
        "Service unavailable",
        "icecast2's admin interface refused or did not answer (titles, listener counts).",
        "Nothing for a client to do; the operator sees it in health.",
    ),
    ProblemType(
        "liquidsoap-error",
        "Service unavailable",
        "The Liquidsoap engine did not answer a command as expected.",
        "Nothing for a client to do; the operator sees it in health.",
    ),
    ProblemType(
        "relay-error",
        "Service unavailable",
        "The built-in relay could not serve or accept a stream.",
        "Reconnect; the operator sees it in health.",
    ),
    ProblemType(
        "bad-request",
        "Bad request",
        "The relay could not read the request (a source or listener speaking something other "
        "than HTTP/ICY).",
        "Connect with an Icecast-compatible client.",
    ),
    ProblemType(
        "live-input",
        "Service unavailable",
        "A live TV input could not be read.",
        "Check the source; the channel stays on its schedule meanwhile.",
    ),
    ProblemType(
        "notify-failed",
        "Service unavailable",
        "Playout could not tell the API processes through PostgreSQL that now-playing changed; "
        "they read it from storage at their next poll instead.",
        "Nothing for a client to do; the operator sees it in the log.",
    ),
    ProblemType(
        "gave-up",
        "Service unavailable",
        "An essential part could not be kept running and the process must be restarted.",
        "Tell the station's operator.",
    ),
)


def problem_type(reason: str) -> ProblemType | None:
    return CATALOGUE.get(reason)
