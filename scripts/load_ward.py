"""Load run: beds streaming at 1 Hz through the ingestion API while ward
overviews watch over WebSockets; reports what was sent, stored and delivered.

Usage:
    python scripts/load_ward.py [--beds 100] [--sockets 20] [--seconds 600]
        [--churn 5] [--json PATH]

The script creates wards ``load-<run>-01``, ``load-<run>-02`` … of 12 beds
each (with patients, one device token and a nurse assigned to them) in the
database the settings name, starts its own ASGI server (daphne) on a free
loopback port, then:

- one client per bed posts that bed's readings every second, taken from the
  bundled BIDMC recordings, to ``POST /api/v1/observations``;
- ``--sockets`` WebSockets, spread over the load wards, log in as the nurse
  and record every ``bed.updated`` frame;
- every 10 seconds ``--churn`` further sockets connect and are cut without a
  closing handshake, as a browser killed mid-session would be;
- with ``--history-readers``, that many nurse clients keep fetching the 24 h
  history of a bed with a day of 1 Hz data. It is the bed panel's slowest
  query, and the run shows its effect on the other pages' live frames;
- after the run the server is restarted and ``--storm`` sockets reconnect at
  the same moment, as every open page does after a restart; each must get
  its snapshot.

At the end it prints readings sent and stored, and frames expected and
delivered. It also prints the delay from a batch being posted to its frame
reaching a socket (median, 99th percentile, maximum), the errors, and the
memory of the ASGI server and of Redis sampled over the run.

It changes no existing row except the password of the user ``load-nurse``.
Its wards stay for inspection, so point ``DATABASE_URL`` at a scratch
database for repeated runs.
"""

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medtwin.settings")

import aiohttp  # noqa: E402
import django  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from medtwin.roles import NURSE  # noqa: E402
from scripts.common import cpu_model, store_day  # noqa: E402
from tests.helpers import free_port  # noqa: E402
from twins.models import Bed, DeviceToken, Observation, Patient, TwinState, Ward  # noqa: E402
from twins.replay import Replay, available_records, load_record  # noqa: E402

BEDS_PER_WARD = 12
WARD_PREFIX = "load-"
NURSE_NAME = "load-nurse"
MEMORY_SAMPLE_SECONDS = 10
CHURN_EVERY_SECONDS = 10
DRAIN_SECONDS = 5


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is invalid: expected 1 or more")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is invalid: expected 0 or more")
    return value


def prepare(beds: int) -> tuple[list[Ward], dict[str, str], str, str]:
    """Create the load wards, beds, patients, a device token and a nurse.

    Return the wards, the ward code of each bed code, the device token and
    the nurse's password.
    """
    password = secrets.token_urlsafe(16)
    run = timezone.now().strftime("%Y%m%d%H%M%S")
    now = timezone.now()
    with transaction.atomic():
        nurse, _ = User.objects.get_or_create(username=NURSE_NAME)
        nurse.set_password(password)
        nurse.save()
        nurse.groups.add(Group.objects.get_or_create(name=NURSE)[0])
        wards, bed_wards = [], {}
        for index in range(0, beds, BEDS_PER_WARD):
            number = index // BEDS_PER_WARD + 1
            ward = Ward.objects.create(
                code=f"{WARD_PREFIX}{run}-{number:02d}", name=f"Load ward {number}"
            )
            ward.nurses.add(nurse)
            wards.append(ward)
            for bed_number in range(1, min(BEDS_PER_WARD, beds - index) + 1):
                bed = Bed.objects.create(
                    ward=ward,
                    code=f"ld{run}-{number:02d}-{bed_number:02d}",
                    label=f"Bed {bed_number}",
                )
                TwinState.objects.create(bed=bed)
                Patient.objects.create(
                    pseudonym=f"LD-{run}-{number:02d}{bed_number:02d}",
                    bed=bed,
                    admitted_at=now,
                )
                bed_wards[bed.code] = ward.code
        _, token = DeviceToken.issue(name=f"load-run-{run}")
    return wards, bed_wards, token, password


async def read_history(session, base, ward_code, bed_code, tally, stop_at):
    """Fetch a bed's 24 h history again and again until the run ends."""
    url = f"{base}/wards/{ward_code}/beds/{bed_code}/history?window=24h"
    while time.monotonic() < stop_at:
        started = time.monotonic()
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                tally.errors[f"history HTTP {response.status}"] += 1
                continue
        tally.history_ms.append((time.monotonic() - started) * 1000)


def start_server(port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "medtwin.asgi:application"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"daphne did not start; see {log_path}") from None
            time.sleep(0.2)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def log_in(session: aiohttp.ClientSession, base: str, password: str) -> None:
    async with session.get(f"{base}/login/") as response:
        page = await response.text()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    async with session.post(
        f"{base}/login/",
        data={"username": NURSE_NAME, "password": password,
              "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
    ) as response:  # fmt: skip
        if response.status != 302:
            raise SystemExit(f"nurse login failed with HTTP {response.status}")


class Tally:
    def __init__(self) -> None:
        self.readings_sent = 0
        self.batches_accepted: dict[tuple[str, str], float] = {}
        self.errors: Counter = Counter()
        self.frames: dict[int, set[tuple[str, str]]] = defaultdict(set)
        self.delays: list[float] = []
        self.memory: list[dict] = []
        self.resyncs = 0
        self.history_ms: list[float] = []


async def stream(session, base, token, replay, pairs, tally, stop_at):
    """Post the readings of ``pairs`` (bed, record) once a second.

    One pair is a bedside monitor posting for its own bed; several are a
    ward gateway posting every bed of its ward in one batch.
    """
    beds = [bed for bed, _ in pairs]
    source = Replay(beds, [record for _, record in pairs], loop_gap_seconds=1)
    second = 0
    start = time.monotonic()
    first_stamp = timezone.now().replace(microsecond=0)
    while time.monotonic() < stop_at:
        # Each batch is stamped with its own second, as a monitor's samples
        # are, even when a slow server makes the client fall behind.
        stamp = first_stamp + timezone.timedelta(seconds=second)
        readings = source.readings_at(second, stamp)
        if readings:
            sent = time.time()
            try:
                async with session.post(
                    f"{base}/api/v1/observations",
                    json={"readings": readings},
                    headers={"Authorization": f"Bearer {token}"},
                ) as response:
                    await response.read()
                    if response.status == 201:
                        tally.readings_sent += len(readings)
                        for bed in {reading["bed"] for reading in readings}:
                            tally.batches_accepted[(bed, stamp.isoformat())] = sent
                    else:
                        tally.errors[f"HTTP {response.status}"] += 1
            except aiohttp.ClientError as error:
                tally.errors[type(error).__name__] += 1
        second += 1
        await asyncio.sleep(max(0.0, start + second - time.monotonic()))


def frame_key(bed: dict) -> tuple[str, str] | None:
    stamps = [entry["at"] for entry in bed.get("vitals", {}).values() if "at" in entry]
    return (bed["bed"], max(stamps)) if stamps else None


async def watch(session, ws_base, ward_code, index, tally, stop_at, ready):
    async with session.ws_connect(
        f"{ws_base}/ws/wards/{ward_code}/", headers={"Origin": ws_base_http(ws_base)}
    ) as ws:
        ready.set()
        sequences: dict[str, int] = {}
        while time.monotonic() < stop_at + DRAIN_SECONDS:
            try:
                message = await ws.receive(timeout=1)
            except TimeoutError:
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                tally.errors[f"socket {index} closed: {message.type.name}"] += 1
                return
            frame = json.loads(message.data)
            if frame.get("type") == "ward.snapshot":
                for bed in frame["beds"]:
                    sequences[bed["bed"]] = bed["sequence"]
                continue
            if frame.get("type") == "alert.updated":
                # Alert frames take their sequence numbers from the same
                # counter as the bed's updates.
                bed = frame["bed"]
                sequences[bed] = max(frame["sequence"], sequences.get(bed, 0))
                continue
            if frame.get("type") != "bed.updated":
                continue
            # As the ward page does: a jump in a bed's sequence means frames
            # were dropped, so ask for a snapshot.
            bed, sequence = frame["bed"]["bed"], frame["bed"]["sequence"]
            if bed in sequences and sequence > sequences[bed] + 1:
                tally.resyncs += 1
                await ws.send_json({"type": "resync"})
            sequences[bed] = max(sequence, sequences.get(bed, 0))
            key = frame_key(frame["bed"])
            if key is None:
                continue
            tally.frames[index].add(key)
            sent = tally.batches_accepted.get(key)
            if sent is not None:
                tally.delays.append(time.time() - sent)


def ws_base_http(ws_base: str) -> str:
    return ws_base.replace("ws://", "http://", 1)


async def churn(session, port, wards, count, stop_at, tally):
    """Open sockets and reset them without a close frame, as a killed browser."""
    cookies = "; ".join(f"{cookie.key}={cookie.value}" for cookie in session.cookie_jar)
    while time.monotonic() < stop_at:
        await asyncio.sleep(CHURN_EVERY_SECONDS)
        for number in range(count):
            ward = wards[number % len(wards)]
            key = base64.b64encode(secrets.token_bytes(16)).decode()
            request = (
                f"GET /ws/wards/{ward.code}/ HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Cookie: {cookies}\r\n\r\n"
            )
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request.encode())
                status = await asyncio.wait_for(reader.readline(), 5)
                if b" 101 " not in status:
                    tally.errors[f"churn upgrade {status.strip()!r}"] += 1
                # Wait for the snapshot, so the consumer has joined its group.
                await asyncio.wait_for(reader.read(1), 5)
                writer.transport.abort()
            except (OSError, TimeoutError) as error:
                tally.errors[f"churn {type(error).__name__}"] += 1


async def sample_memory(server_pid, tally, stop_at):
    """Sample server memory, Redis memory and open database sessions."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    server = psutil.Process(server_pid)
    database = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    start = time.monotonic()
    while time.monotonic() < stop_at + DRAIN_SECONDS:
        sessions = database.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchone()[0]
        tally.memory.append(
            {
                "t_s": round(time.monotonic() - start),
                "server_rss_mb": round(server.memory_info().rss / 2**20, 1),
                "redis_used_mb": round(client.info("memory")["used_memory"] / 2**20, 2),
                "database_sessions": sessions - 1,
            }
        )
        await asyncio.sleep(MEMORY_SAMPLE_SECONDS)
    database.close()


async def run(args, wards, bed_ward, token, password, port, server_pid) -> Tally:
    beds = list(bed_ward)
    base = f"http://127.0.0.1:{port}"
    ws_base = f"ws://127.0.0.1:{port}"
    records = [load_record(path) for path in available_records()]
    replay = Replay(beds, records, loop_gap_seconds=1)
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=len(beds) + args.sockets + args.churn + 8)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        await log_in(session, base, password)
        stop_at = time.monotonic() + args.seconds + 5
        ready = [asyncio.Event() for _ in range(args.sockets)]
        watchers = [
            asyncio.create_task(
                watch(session, ws_base, wards[i % len(wards)].code, i, tally,
                      stop_at, ready[i])
            )
            for i in range(args.sockets)
        ]  # fmt: skip
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 30)
        await asyncio.sleep(2)  # the snapshot frames arrive first
        stop_at = time.monotonic() + args.seconds
        if args.gateway:
            groups = defaultdict(list)
            for bed, record in replay.pairs:
                groups[bed_ward[bed]].append((bed, record))
            senders = list(groups.values())
        else:
            senders = [[pair] for pair in replay.pairs]
        tasks = [
            asyncio.create_task(
                stream(session, base, token, replay, pairs, tally, stop_at)
            )
            for pairs in senders
        ]
        tasks.append(asyncio.create_task(sample_memory(server_pid, tally, stop_at)))
        history_bed = beds[-1]
        tasks += [
            asyncio.create_task(
                read_history(session, base, bed_ward[history_bed], history_bed,
                             tally, stop_at)
            )
            for _ in range(args.history_readers)
        ]  # fmt: skip
        if args.churn:
            tasks.append(
                asyncio.create_task(
                    churn(session, port, wards, args.churn, stop_at, tally)
                )
            )
        await asyncio.gather(*tasks, *watchers)
    return tally


async def storm(base: str, password: str, wards, count: int) -> dict:
    """Connect ``count`` sockets at once and count the snapshots received."""
    ws_base = base.replace("http://", "ws://", 1)
    connector = aiohttp.TCPConnector(limit=count + 4)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        await log_in(session, base, password)

        async def one(number: int) -> float | None:
            started = time.monotonic()
            try:
                async with session.ws_connect(
                    f"{ws_base}/ws/wards/{wards[number % len(wards)].code}/",
                    headers={"Origin": base},
                ) as ws:
                    frame = json.loads((await ws.receive(timeout=60)).data)
                    if frame.get("type") == "ward.snapshot":
                        return time.monotonic() - started
            except (aiohttp.ClientError, TimeoutError, TypeError, ValueError):
                pass
            return None

        started = time.monotonic()
        waits = await asyncio.gather(*(one(number) for number in range(count)))
        total = time.monotonic() - started
        async with session.get(f"{base}/login/") as response:
            alive = response.status == 200
    answered = [wait for wait in waits if wait is not None]
    return {
        "sockets": count,
        "snapshots_received": len(answered),
        "slowest_snapshot_s": round(max(answered), 2) if answered else None,
        "all_done_s": round(total, 2),
        "server_answers_after": alive,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(args, tally, wards, bed_ward) -> dict:
    stored = (
        Observation.objects.filter(bed__ward__in=wards)
        .exclude(device="load-day")
        .count()
    )
    expected_frames = delivered_frames = 0
    for index in range(args.sockets):
        ward_code = wards[index % len(wards)].code
        expected = {
            key for key in tally.batches_accepted if bed_ward[key[0]] == ward_code
        }
        expected_frames += len(expected)
        delivered_frames += len(expected & tally.frames[index])
    delays_ms = [delay * 1000 for delay in tally.delays]
    return {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
        },
        "beds": len(bed_ward),
        "posting": "one batch per ward a second"
        if args.gateway
        else "one batch per bed a second",
        "sockets": args.sockets,
        "churned_sockets_every_10_s": args.churn,
        "seconds": args.seconds,
        "readings_sent": tally.readings_sent,
        "readings_stored": stored,
        "batches_accepted": len(tally.batches_accepted),
        "batches_offered": len(bed_ward) * args.seconds,
        "frames_expected": expected_frames,
        "frames_delivered": delivered_frames,
        "sequence_gaps_resynced": tally.resyncs,
        "delay_ms": {
            "median": round(statistics.median(delays_ms), 1) if delays_ms else None,
            "p99": round(percentile(delays_ms, 0.99), 1) if delays_ms else None,
            "max": round(max(delays_ms), 1) if delays_ms else None,
        },
        "errors": dict(tally.errors),
        "history_24h_requests": len(tally.history_ms),
        "history_24h_ms": {
            "median": round(statistics.median(tally.history_ms), 1)
            if tally.history_ms
            else None,
            "p99": round(percentile(tally.history_ms, 0.99), 1)
            if tally.history_ms
            else None,
        },
        "memory": tally.memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beds", type=positive_int, default=100)
    parser.add_argument("--sockets", type=positive_int, default=20)
    parser.add_argument("--seconds", type=positive_int, default=600)
    parser.add_argument("--churn", type=non_negative_int, default=5)
    parser.add_argument("--storm", type=non_negative_int, default=200)
    parser.add_argument("--history-readers", type=non_negative_int, default=0)
    parser.add_argument(
        "--gateway",
        action="store_true",
        help="post each ward's beds in one batch a second, as a ward gateway",
    )
    parser.add_argument("--json", type=Path, help="write the report here as well")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    wards, bed_ward, token, password = prepare(args.beds)
    if args.history_readers:
        store_day(
            Bed.objects.get(code=list(bed_ward)[-1]),
            ("heart_rate", "resp_rate", "spo2"),
            device="load-day",
            end=timezone.now() - timezone.timedelta(minutes=1),
        )
    port = free_port()
    log_path = ROOT / "var" / "load-daphne.log"
    log_path.parent.mkdir(exist_ok=True)
    server = start_server(port, log_path)
    try:
        tally = asyncio.run(
            run(args, wards, bed_ward, token, password, port, server.pid)
        )
    finally:
        stop_server(server)
    result = report(args, tally, wards, bed_ward)
    if args.storm:
        server = start_server(port, log_path.with_name("load-daphne-storm.log"))
        try:
            base = f"http://127.0.0.1:{port}"
            result["reconnect_storm"] = asyncio.run(
                storm(base, password, wards, args.storm)
            )
        finally:
            stop_server(server)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    complete = (
        result["readings_sent"] == result["readings_stored"]
        and result["frames_expected"] == result["frames_delivered"]
        and (
            not args.storm
            or result["reconnect_storm"]["snapshots_received"] == args.storm
        )
    )
    sys.exit(0 if complete else 1)


if __name__ == "__main__":
    main()
