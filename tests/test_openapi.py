"""The OpenAPI description tells every error as it is sent: application/problem+json, with
one Problem schema, on every route that can answer it (tests/test_schemathesis.py calls the
routes; this reads the document)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from diaspor import migrate
from diaspor.compose import build_station
from media.binaries import Tools
from tests.conftest import settings_for

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# Starlette's FileResponse answers a Range it cannot serve in text/plain, before our code runs.
RANGE_ANSWERS = {("/files/{key}", "get", "400"), ("/files/{key}", "get", "416")}
# A page a reader's browser shows (a player, a programme, an episode): not there is a page too.
HTML = {"text/html": {"schema": {"type": "string"}}}
PAGES_NOT_FOUND = {
    (path, "get", "404")
    for path in (
        "/embed/radio/{slug}",
        "/embed/tv/{slug}",
        "/programmes/{slug}",
        "/episodes/{episode_id}",
    )
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Any]:
    """The document, from a station on SQLite (it does not depend on the database)."""
    folder = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{folder / 'test.db'}"
    migrate.upgrade(url)
    station = build_station(settings_for(folder, url), tools=tools)
    try:
        return create_app(station).openapi()
    finally:
        station.close()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def test_every_error_is_documented_as_a_problem(spec: dict[str, Any]) -> None:
    seen = 0
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            if int(status) < 400 or (path, method, status) in RANGE_ANSWERS:
                continue
            if (path, method, status) in PAGES_NOT_FOUND:
                assert response.get("content") == HTML, (method, path, status)
                continue
            assert response.get("content") == PROBLEM, (method, path, status)
            seen += 1
    assert seen > 200
    assert {
        (path, method, status)
        for path, method, op in operations(spec)
        for status in op["responses"]
    } >= PAGES_NOT_FOUND
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "reason", "instance"}


def test_what_fastapi_and_the_guards_answer_is_on_every_route_it_can_come_from(
    spec: dict[str, Any],
) -> None:
    for path, method, op in operations(spec):
        responses = op["responses"]
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in responses, (method, path)
        body = op.get("requestBody", {}).get("content", {})
        if {"application/json", "application/x-www-form-urlencoded"} & set(body):
            assert "400" in responses, (method, path)  # a body FastAPI cannot read
        if op.get("security") and path != "/health":  # /health only tells signed-in admins more
            assert "401" in responses, (method, path)
            # icecast2's own credential: no roles
            if path not in ("/api/v1/live/icecast-auth", "/api/v1/audience/icecast"):
                assert "403" in responses, (method, path)
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
        if method == "get" and "text/event-stream" not in responses["200"].get("content", {}):
            assert "304" in responses, path  # the HTTP cache's answer to If-None-Match


# The operation ids are the names generated clients call (`client.list_episodes`,
# `listEpisodes`): renaming one breaks every app built on the API, so the list is held here.
OPERATION_IDS = """
authoriseIcecastSource createApiKey createChannel createClock createEpisode createPlaylist
createProgramme createScheduleEntry createUser deleteChannel deleteClock deleteEpisode
deleteMyStreamKey deletePlaylist deleteProgramme deleteScheduleEntry deleteUserStreamKey
getChannel getChannelCalendar getChannelNowPlaying getChannelSchedule getEpisode getFile
getHealth getJob getM3uPlaylist getManagedChannel getManagedClock getManagedEpisode
getManagedPlaylist getManagedProgramme getManagedScheduleEntry getMe getMedia getMyStreamKey
getConsolePage getPlayerPage getPodcastFeed getProblemType getProgramme getProgrammeCalendar
getTvPage getXmltvGuide
listApiKeys listAsRun listAuditEvents listChannels listEpisodes listManagedChannels
listManagedClocks listManagedEpisodes listMySlots listManagedPlaylists listManagedProgrammes
listManagedScheduleEntries
listMedia listNowPlaying listProblemTypes listProgrammeEpisodes listProgrammes listUsers
refreshToken streamNowPlaying
revokeApiKey rotateMyStreamKey setMediaSubtitle signIn signOut streamChannelNowPlaying
updateChannel updateClock updateEpisode updateMedia updatePlaylist updateProgramme
updateScheduleEntry updateUser uploadMedia
getRadioEmbed getTvEmbed getEmbedScript getProgrammePage getEpisodePage
deleteMedia getMediaPeaks setMediaArtwork setChannelLogo
describeUploads createUpload getUploadOffset sendUploadPart terminateUpload getUpload
skipOnAir playNow
getAudienceReport getAudienceChart getMonthlyAudienceReport reportIcecastListener
"""


def test_operations_have_stable_readable_ids_and_one_documented_tag(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(OPERATION_IDS.split())
    tags = {t["name"] for t in spec["tags"]}
    assert all(t.get("description") for t in spec["tags"])
    for path, method, op in operations(spec):
        assert len(op["tags"]) == 1 and op["tags"][0] in tags, (method, path, op["tags"])
        assert op.get("summary"), (method, path)


def test_every_example_in_the_document_is_valid_against_its_schema(spec: dict[str, Any]) -> None:
    """Examples are what a developer copies first: each one holds to the schema it shows."""
    from jsonschema import Draft202012Validator

    checked = []
    for name, schema in spec["components"]["schemas"].items():
        for example in schema.get("examples", []):
            root = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
            errors = [e.message for e in Draft202012Validator(root).iter_errors(example)]
            assert not errors, (name, errors[:3])
            checked.append(name)
    assert {
        "NowPlayingOut",
        "ChannelOut",
        "ScheduleOut",
        "ProgrammeDetail",
        "EpisodeDetailOut",
    } <= set(checked)
    # and the schemas are strict enough for an example to fail: a title that is a number
    bad = {**spec["components"]["schemas"]["ChannelOut"]["examples"][0], "name": 7}
    root = {"$ref": "#/components/schemas/ChannelOut", "components": spec["components"]}
    assert list(Draft202012Validator(root).iter_errors(bad))
