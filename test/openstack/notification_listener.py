"""oslo.messaging's own notification listener, as an OpenStack consumer of audit notifications runs it.

    /usr/bin/python3 notification_listener.py --url rabbit://... --exchange X --topic T

listens on exchange X, topic T (oslo's queue `T.info`), prints {"ready": true} once consuming, then one JSON line
per notification the dispatcher hands to the endpoint: the method (= priority) it was dispatched to, event_type,
publisher_id, metadata, payload, and `problems`: what pycadf refuses when the payload is rebuilt as its Event.
A message oslo cannot decode, or whose priority it does not know, never reaches the endpoint (oslo logs it to
stderr). Stops when stdin is closed.
"""

import argparse
import sys
import threading

from oslo_config import cfg
import oslo_messaging
from pycadf import cadftaxonomy
from pycadf import credential
from pycadf import endpoint
from pycadf import event
from pycadf import host
from pycadf import reason
from pycadf import reporterstep
from pycadf import resource

import harness

RESOURCE_ARGS = ("id", "typeURI", "name", "ref", "domain", "geolocationId")
CREDENTIAL_ARGS = ("token", "type")


def with_extras(obj, d, taken):
    """Keys pycadf's class does not take become attributes, as keystonemiddleware's subclasses add project_id to a
    Resource and identity_status to a Credential."""
    for k, v in d.items():
        if k not in taken:
            setattr(obj, k, v)
    return obj


def rebuild_resource(d):
    """A resource dict -> pycadf Resource (with its Credential, Host and addresses)."""
    cred = d.get("credential")
    r = resource.Resource(
        credential=(
            with_extras(credential.Credential(**{k: cred[k] for k in CREDENTIAL_ARGS if k in cred}), cred, CREDENTIAL_ARGS)
            if cred is not None
            else None
        ),
        host=host.Host(**d["host"]) if "host" in d else None,
        **{k: d[k] for k in RESOURCE_ARGS if k in d},
    )
    with_extras(r, d, RESOURCE_ARGS + ("credential", "host", "addresses"))
    for a in d.get("addresses", []):
        r.add_address(endpoint.Endpoint(**a))
    return r


def pycadf_problems(p):
    """What pycadf's own model refuses in a payload (its setters raise ValueError; is_valid() checks the rest)."""
    problems = []
    try:
        ev = event.Event(
            eventType=p.get("eventType"),
            id=p.get("id"),
            eventTime=p.get("eventTime"),
            action=p.get("action"),
            outcome=p.get("outcome"),
            initiator=rebuild_resource(p["initiator"]),
            target=rebuild_resource(p["target"]),
            observer=rebuild_resource(p["observer"]),
            reason=reason.Reason(**p["reason"]) if "reason" in p else None,
        )
        for step in p.get("reporterchain", []):
            ev.add_reporterstep(
                reporterstep.Reporterstep(
                    role=step["role"], reporterTime=step["reporterTime"], reporter=rebuild_resource(step["reporter"])
                )
            )
        for tag in p.get("tags", []):
            ev.add_tag(tag)
        if not isinstance(p.get("id"), str):
            problems.append("id %r is not a string" % p.get("id"))
        if p.get("typeURI") != event.TYPE_URI_EVENT:
            problems.append("typeURI %r" % p.get("typeURI"))
        if not ev.is_valid():
            problems.append("Event.is_valid() is false")
        for name in ("initiator", "target"):
            if not cadftaxonomy.is_valid_resource(p[name].get("typeURI")):
                problems.append("%s.typeURI %r is not in the taxonomy" % (name, p[name].get("typeURI")))
    except (KeyError, TypeError, ValueError) as e:
        problems.append("%s: %s" % (type(e).__name__, e))
    return problems


class Endpoint:
    """One method per priority oslo knows; each reports what it was handed."""

    def __init__(self, lock):
        self.lock = lock
        for prio in ("audit", "debug", "info", "warn", "error", "critical", "sample"):
            setattr(self, prio, self.recorder(prio))

    def recorder(self, prio):
        def record(ctxt, publisher_id, event_type, payload, metadata):
            line = {
                "method": prio,
                "event_type": event_type,
                "publisher_id": publisher_id,
                "metadata": metadata,
                "payload": payload,
                "problems": pycadf_problems(payload),
            }
            with self.lock:
                harness.say(line)
            return oslo_messaging.NotificationResult.HANDLED

        return record


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--topic", required=True)
    args = parser.parse_args()
    conf = cfg.ConfigOpts()
    conf([], project="vigil-listener")
    transport = oslo_messaging.get_notification_transport(conf, url=args.url)
    targets = [oslo_messaging.Target(topic=args.topic, exchange=args.exchange)]
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [Endpoint(threading.Lock())], executor="threading"
    )
    stopped = threading.Event()
    harness.on_stdin_closed(stopped.set)
    listener.start()
    harness.say({"ready": True})
    stopped.wait()
    listener.stop()
    listener.wait()
    transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
