"""A stand-in kubelet for the test cluster of scripts/k8s: a test double, not a kubelet.

This machine has no container runtime, so no real kubelet can run here, and without one Pods stay
Pending forever. This process plays the kubelet's (and the scheduler's) part towards the API
server only: Pods are data, no container runs, nothing listens on the Pod IPs it reports. It

- registers the Node `gennaker-node` (K8S_NODE) and refreshes its Ready condition every 10 s;
- binds Pending Pods to it (pods/binding), unless their nodeSelector does not match its labels
  (then they stay Pending, marked Unschedulable, as the scheduler would leave them);
- reports bound Pods Running and Ready, with container statuses and a Pod IP from 192.0.2.0/24
  (TEST-NET-1: documentation addresses, reachable by nothing);
- reports Job Pods Succeeded (exit code 0), or Failed (exit code 1) when labelled
  `gennaker.io/test-fail: "true"`; other Pods with that label crash-loop (Running, not Ready);
- leaves Pods labelled `gennaker.io/test-never-ready: "true"` Running but never Ready;
- finishes the deletion of terminating Pods (DELETE with gracePeriodSeconds 0), as a kubelet
  does once their containers have stopped.

It watches Pods (so a new Pod is Running within a fraction of a second), relists on 410 Gone or a
broken watch, and relists every 5 s anyway as a fallback. Errors (an API server restarting, a
conflict) are logged to stderr and retried with backoff; it never exits on its own.
Settings: K8S_API (https://127.0.0.1:PORT), K8S_CA (the CA file), K8S_TOKEN, K8S_NODE.
Python 3 standard library only.
"""

import datetime
import hashlib
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

API = os.environ["K8S_API"].rstrip("/")
TOKEN = os.environ["K8S_TOKEN"]
NODE = os.environ.get("K8S_NODE", "gennaker-node")
CONTEXT = ssl.create_default_context(cafile=os.environ["K8S_CA"])

FAIL_LABEL = "gennaker.io/test-fail"
NEVER_READY_LABEL = "gennaker.io/test-never-ready"
NODE_LABELS = {
    "kubernetes.io/hostname": NODE,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
    "beta.kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": "amd64",
}
HEARTBEAT_SECONDS = 10
# The watch ends after this long and everything is listed again: the fallback resync.
RESYNC_SECONDS = 5
MERGE_PATCH = "application/merge-patch+json"
# Retries after an error wait 0.5 s, then twice as long each time, up to this: short, since the
# usual cause is an API server restarting (on purpose, in a test) on this same machine.
MAX_BACKOFF = 2


def log(message):
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} {message}", file=sys.stderr, flush=True)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, code, body):
        super().__init__(f"HTTP {code}: {body[:300]}")
        self.code = code


def request(method, path, body=None, content_type="application/json", timeout=15):
    """One API call; the decoded JSON answer. Raises ApiError on an HTTP error status."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        API + path,
        data=data,
        method=method,
        headers={
            "Authorization": "Bearer " + TOKEN,
            "Content-Type": content_type,
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, context=CONTEXT, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise ApiError(error.code, error.read().decode(errors="replace")) from None


# ------------------------------------------------------------------------------------------- node


def node_status():
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "stand-in kubelet is posting ready status (no container runtime)",
    }
    pressure = [
        {"type": kind, "status": "False", "reason": f"KubeletHas{reason}", "message": ""}
        for kind, reason in (
            ("MemoryPressure", "SufficientMemory"),
            ("DiskPressure", "NoDiskPressure"),
            ("PIDPressure", "SufficientPID"),
        )
    ]
    conditions = []
    for condition in pressure + [ready]:
        condition.update(lastHeartbeatTime=now(), lastTransitionTime=STARTED)
        conditions.append(condition)
    resources = {"cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti"}
    return {
        "conditions": conditions,
        "capacity": resources,
        "allocatable": resources,
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": NODE},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": os.uname().release,
            "osImage": "gennaker stand-in kubelet (no container runtime)",
            "containerRuntimeVersion": "stand-in://0",
            "kubeletVersion": "v1.20.2",
            "kubeProxyVersion": "v1.20.2",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def heartbeat_forever():
    """Keeps the Node registered and Ready (recreates it if someone deleted it)."""
    backoff = 0.5
    while True:
        try:
            try:
                request("PATCH", f"/api/v1/nodes/{NODE}/status", {"status": node_status()}, MERGE_PATCH)
            except ApiError as error:
                if error.code != 404:
                    raise
                log(f"registering node {NODE}")
                node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": NODE_LABELS}}
                try:
                    request("POST", "/api/v1/nodes", node)
                except ApiError as create_error:
                    if create_error.code != 409:
                        raise
                request("PATCH", f"/api/v1/nodes/{NODE}/status", {"status": node_status()}, MERGE_PATCH)
            backoff = 0.5
            time.sleep(HEARTBEAT_SECONDS)
        except Exception as error:  # noqa: BLE001 - a test double must not die
            log(f"node heartbeat failed: {error}; retrying in {backoff:.1f} s")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


# -------------------------------------------------------------------------------------------- pods

# Pod IPs handed out, by Pod uid (stable across resyncs; the address is only data).
POD_IPS = {}
# The resourceVersion of each Pod after this process last wrote it, by uid: an event older than
# that (the binding's, arriving after the status was patched) is stale and is not acted on.
WRITTEN = {}
NEXT_IP = [0]


def pod_ip(pod):
    existing = pod.get("status", {}).get("podIP")
    if existing:
        return existing
    uid = pod["metadata"]["uid"]
    if uid not in POD_IPS:
        NEXT_IP[0] += 1
        POD_IPS[uid] = f"192.0.2.{(NEXT_IP[0] - 1) % 254 + 1}"
    return POD_IPS[uid]


def container_id(pod, container):
    digest = hashlib.sha256(f"{pod['metadata']['uid']}/{container['name']}".encode()).hexdigest()
    return f"stand-in://{digest}"


def image_id(container):
    digest = hashlib.sha256(container.get("image", "").encode()).hexdigest()
    return f"stand-in://{container.get('image', '')}@sha256:{digest}"


def version(obj):
    # Opaque to clients in theory; etcd's revision, an integer, in practice (and only compared
    # with versions of the same object here).
    try:
        return int(obj.get("metadata", {}).get("resourceVersion", 0))
    except ValueError:
        return 0


def is_job_pod(pod):
    return any(owner.get("kind") == "Job" for owner in pod["metadata"].get("ownerReferences", []))


def label(pod, key):
    return pod["metadata"].get("labels", {}).get(key) == "true"


def condition(pod, kind, status, reason=None, message=None):
    """A Pod condition; keeps lastTransitionTime when the status did not change."""
    previous = next((c for c in pod.get("status", {}).get("conditions", []) if c.get("type") == kind), None)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    result = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since or now()}
    if reason:
        result["reason"] = reason
    if message:
        result["message"] = message
    return result


def init_container_statuses(pod, started):
    # Init containers have all run, and succeeded, before the app containers start.
    return [
        {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": image_id(c),
            "containerID": container_id(pod, c),
            "ready": True,
            "restartCount": 0,
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": started,
                    "finishedAt": started,
                    "containerID": container_id(pod, c),
                }
            },
        }
        for c in pod["spec"].get("initContainers", [])
    ]


def desired_status(pod):
    """The status a kubelet would report for this (bound) Pod, or None when it has it already."""
    status = pod.get("status", {})
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return None  # finished for good
    started = status.get("startTime") or now()
    containers = pod["spec"]["containers"]
    fail = label(pod, FAIL_LABEL)
    base = {
        "hostIP": "127.0.0.1",
        "podIP": pod_ip(pod),
        "podIPs": [{"ip": pod_ip(pod)}],
        "startTime": started,
        "initContainerStatuses": init_container_statuses(pod, started),
    }

    if is_job_pod(pod):
        # The command "ran" and exited: 0, or 1 for a Pod a test wants to fail.
        exit_code, reason, new_phase = (1, "Error", "Failed") if fail else (0, "Completed", "Succeeded")
        statuses = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": image_id(c),
                "containerID": container_id(pod, c),
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": exit_code,
                        "reason": reason,
                        "startedAt": started,
                        "finishedAt": now(),
                        "containerID": container_id(pod, c),
                    }
                },
            }
            for c in containers
        ]
        return dict(
            base,
            phase=new_phase,
            conditions=[
                condition(pod, "Initialized", "True"),
                condition(pod, "Ready", "False", "PodCompleted"),
                condition(pod, "ContainersReady", "False", "PodCompleted"),
                condition(pod, "PodScheduled", "True"),
            ],
            containerStatuses=statuses,
        )

    # A long-running Pod: Ready, unless a test asked for it never to be (or to crash-loop).
    ready = not fail and not label(pod, NEVER_READY_LABEL)
    if phase == "Running" and status.get("podIP"):
        current = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
        want = "True" if ready else "False"
        statuses = status.get("containerStatuses") or []
        if (
            current.get("Ready") == want
            and current.get("ContainersReady") == want
            and len(statuses) == len(containers)
            and all(s.get("ready") == ready for s in statuses)
        ):
            return None

    def container_status(c):
        result = {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": image_id(c),
            "containerID": container_id(pod, c),
            "ready": ready,
            "started": not fail,
            "restartCount": 0,
            "state": {"running": {"startedAt": started}},
        }
        if fail:
            # What a container that keeps exiting with 1 looks like between restarts.
            result.update(
                restartCount=1,
                state={"waiting": {"reason": "CrashLoopBackOff", "message": "exit code 1 (gennaker.io/test-fail)"}},
                lastState={
                    "terminated": {
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": started,
                        "finishedAt": now(),
                        "containerID": container_id(pod, c),
                    }
                },
            )
        return result

    if ready:
        ready_conditions = [condition(pod, "Ready", "True"), condition(pod, "ContainersReady", "True")]
    else:
        names = ", ".join(c["name"] for c in containers)
        message = f"containers with unready status: [{names}]"
        ready_conditions = [
            condition(pod, "Ready", "False", "ContainersNotReady", message),
            condition(pod, "ContainersReady", "False", "ContainersNotReady", message),
        ]
    return dict(
        base,
        phase="Running",
        conditions=[condition(pod, "Initialized", "True")] + ready_conditions + [condition(pod, "PodScheduled", "True")],
        containerStatuses=[container_status(c) for c in containers],
    )


def schedulable(pod):
    selector = pod["spec"].get("nodeSelector") or {}
    return all(NODE_LABELS.get(key) == value for key, value in selector.items())


def handle(pod):
    """Brings one Pod a step closer to what a kubelet would make of it. Idempotent."""
    meta = pod["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    node = pod["spec"].get("nodeName")

    if meta.get("deletionTimestamp"):
        # The containers are "stopped": finish the deletion (the uid guards a Pod recreated
        # under the same name, as a StatefulSet does).
        if not node or node == NODE:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
            request("DELETE", path, body)
            log(f"deleted {namespace}/{name}")
        return

    if node and node != NODE:
        return  # someone else's node (there is none): left as a real cluster would leave it
    if version(pod) < WRITTEN.get(uid, 0):
        return  # an event from before our last write

    if not node:
        if not schedulable(pod):
            scheduled = next(
                (c for c in pod.get("status", {}).get("conditions", []) if c.get("type") == "PodScheduled"), None
            )
            if not scheduled or scheduled.get("reason") != "Unschedulable":
                message = f"0/1 nodes are available: 1 node(s) didn't match node selector ({NODE})."
                patch = {"status": {"conditions": [condition(pod, "PodScheduled", "False", "Unschedulable", message)]}}
                request("PATCH", path + "/status", patch, MERGE_PATCH)
                log(f"{namespace}/{name} is unschedulable (nodeSelector)")
            return
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
        }
        request("POST", path + "/binding", binding)
        pod["spec"]["nodeName"] = NODE

    status = desired_status(pod)
    if status is None:
        return
    written = request("PATCH", path + "/status", {"status": status}, MERGE_PATCH)
    WRITTEN[uid] = version(written)
    ready = next((c["status"] for c in status["conditions"] if c["type"] == "Ready"), "?")
    log(f"{namespace}/{name}: {status['phase']} (Ready={ready}, IP {status['podIP']})")


def handle_safely(pod):
    try:
        handle(pod)
    except ApiError as error:
        # 404: deleted meanwhile; 409: changed meanwhile (the next event or resync retries).
        if error.code not in (404, 409):
            meta = pod.get("metadata", {})
            log(f"{meta.get('namespace')}/{meta.get('name')}: {error}")
    except Exception as error:  # noqa: BLE001 - one bad Pod must not stop the others
        log(f"{pod.get('metadata', {}).get('name')}: {error!r}")


def watch(resource_version):
    """Handles Pod events from resource_version until the watch ends; the last version seen.
    Raises ApiError(410) when the version is too old."""
    query = urllib.parse.urlencode(
        {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(RESYNC_SECONDS),
        }
    )
    req = urllib.request.Request(
        f"{API}/api/v1/pods?{query}",
        headers={"Authorization": "Bearer " + TOKEN, "Accept": "application/json"},
    )
    try:
        response = urllib.request.urlopen(req, context=CONTEXT, timeout=RESYNC_SECONDS + 30)
    except urllib.error.HTTPError as error:
        raise ApiError(error.code, error.read().decode(errors="replace")) from None
    with response:
        for line in response:  # one JSON event per line, streamed
            if not line.strip():
                continue
            event = json.loads(line)
            kind, obj = event.get("type"), event.get("object", {})
            if kind == "ERROR":
                raise ApiError(obj.get("code", 500), obj.get("message", ""))
            resource_version = obj.get("metadata", {}).get("resourceVersion", resource_version)
            if kind in ("ADDED", "MODIFIED"):
                handle_safely(obj)
            elif kind == "DELETED":
                POD_IPS.pop(obj.get("metadata", {}).get("uid"), None)
                WRITTEN.pop(obj.get("metadata", {}).get("uid"), None)
    return resource_version


def pods_forever():
    backoff = 0.5
    while True:
        try:
            # List (the resync), then watch from there until the watch times out (after
            # RESYNC_SECONDS) or breaks; then list again, the fallback for anything missed.
            pods = request("GET", "/api/v1/pods")
            live = {pod["metadata"]["uid"] for pod in pods.get("items", [])}
            for memo in (POD_IPS, WRITTEN):
                for uid in set(memo) - live:
                    del memo[uid]
            for pod in pods.get("items", []):
                handle_safely(pod)
            backoff = 0.5
            watch(pods["metadata"]["resourceVersion"])
        except ApiError as error:
            if error.code == 410:
                continue  # too old a resourceVersion: relist at once
            log(f"pods: {error}; retrying in {backoff:.1f} s")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        except Exception as error:  # noqa: BLE001 - e.g. the API server restarting
            log(f"pods: {error!r}; retrying in {backoff:.1f} s")
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


STARTED = now()


def main():
    log(f"stand-in kubelet for node {NODE} on {API} (no container runtime: Pods are data)")
    threading.Thread(target=heartbeat_forever, name="heartbeat", daemon=True).start()
    pods_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
