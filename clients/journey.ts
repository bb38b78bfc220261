// What a TypeScript app does with the API, written against the types openapi-typescript makes
// of /openapi.json (generated/schema.d.ts; tests/test_clients.py writes it, then type-checks
// this file with tsc and runs it against a live station). Every field is used by its name, so
// a field the API renames or drops fails here, as it would fail in an app.
//
// The journey: the channels, what is on each, a channel's guide in the listener's zone, a
// programme from that guide, its episodes, one episode on demand, and what a player and a
// podcast app fetch from the links it gives.

import createClient from "openapi-fetch";
import type { paths } from "./generated/schema.js";

export const LISTENER_ZONE = "America/Toronto";

// openapi-fetch lets a query parameter the API does not know through; `satisfies` this does not.
type GuideQuery = NonNullable<paths["/api/v1/channels/{slug}/schedule"]["get"]["parameters"]["query"]>;

/** What the journey found, for the test to compare with what it knows of the station. */
export interface Walked {
  channels: { slug: string; kind: string; timezone: string; streams: string[]; links: string[] }[];
  nowPlaying: { channel: string; current: string | null; history: string[] }[];
  guide: { channel: string; timezone: string; tz: string | null; starts: string[]; ends: string[] };
  programme: { slug: string; title: string; links: string[] };
  episodes: number[];
  episode: { id: number; master: string; audioFile: string; poster: string | null };
  master: string;
  audio: { type: string | null; bytes: number };
  podcastEnclosures: string[];
}

/** The body of a 2xx answer, or an error naming the step and what the API said. */
function body<T>(step: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    const said = JSON.stringify(answer.error);
    throw new Error(`${step}: ${answer.response.status} ${said}`);
  }
  return answer.data;
}

function found<T>(step: string, value: T | undefined): T {
  if (value === undefined) throw new Error(`${step}: not found`);
  return value;
}

/** A URL the API handed out, fetched as a player would. */
async function fetched(step: string, url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${step}: ${r.status} from ${url}`);
  return r;
}

export async function walk(baseUrl: string): Promise<Walked> {
  const api = createClient<paths>({ baseUrl });
  const lang = "en";

  const channels = body("listChannels", await api.GET("/api/v1/channels", {
    params: { query: { lang } },
  })).items;
  const tv = found("a TV channel", channels.find((c) => c.kind === "tv"));

  const playing = body("listNowPlaying", await api.GET("/api/v1/now-playing", {
    params: { query: { lang } },
  })).items;

  const guide = body("getChannelSchedule", await api.GET("/api/v1/channels/{slug}/schedule", {
    params: { path: { slug: tv.slug }, query: { tz: LISTENER_ZONE, lang } satisfies GuideQuery },
  }));
  const block = found("a programme in the guide", guide.blocks.find((b) => b.programme !== null));
  const slug = found("the programme's slug", block.programme ?? undefined);

  const programme = body("getProgramme", await api.GET("/api/v1/programmes/{slug}", {
    params: { path: { slug }, query: { lang } },
  }));
  const episodes = body("listProgrammeEpisodes", await api.GET(
    "/api/v1/programmes/{slug}/episodes",
    { params: { path: { slug }, query: { lang } } },
  )).items;
  const onDemand = found("an episode on demand", episodes.find((e) => e.availability.on_demand));

  const episode = body("getEpisode", await api.GET("/api/v1/episodes/{episode_id}", {
    params: { path: { episode_id: onDemand.id }, query: { lang } },
  }));
  const master = found("the episode's master playlist", episode.links.master ?? undefined);
  const audioFile = found("the episode's audio file", episode.links.audio_file ?? undefined);

  const playlist = await (await fetched("the master playlist", master)).text();
  const sound = await fetched("the audio file", audioFile);
  const soundBytes = (await sound.arrayBuffer()).byteLength;
  const feed = await (await fetched("the podcast feed", programme.links.podcast)).text();

  return {
    channels: channels.map((c) => ({
      slug: c.slug,
      kind: c.kind,
      timezone: c.timezone,
      streams: c.streams.map((s) => s.url),
      links: [c.links.self, c.links.now_playing, c.links.schedule, c.links.calendar],
    })),
    nowPlaying: playing.map((np) => ({
      channel: np.channel,
      current: np.current?.title ?? null,
      history: np.history.map((h) => h.title),
    })),
    guide: {
      channel: guide.channel,
      timezone: guide.timezone,
      tz: guide.tz,
      starts: guide.blocks.map((b) => b.start),
      ends: guide.blocks.map((b) => b.end),
    },
    programme: {
      slug: programme.slug,
      title: programme.title,
      links: [programme.links.self, programme.links.episodes, programme.links.podcast],
    },
    episodes: episodes.map((e) => e.id),
    episode: { id: episode.id, master, audioFile, poster: episode.links.poster },
    master: playlist,
    audio: { type: sound.headers.get("content-type"), bytes: soundBytes },
    podcastEnclosures: [...feed.matchAll(/<enclosure [^>]*url="([^"]+)"/g)].map((m) => m[1] ?? ""),
  };
}
