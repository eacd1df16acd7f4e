"""An API shaped like Octavia's (load balancers, listeners, pools), audited the way Octavia audits its own.

The pipeline is the one octavia/api/app.py builds, outermost first: an identity filter standing in for
keystonemiddleware's auth_token (a token from a fixed table -> the X-User-Id, X-Project-Id, X-Roles,
X-Service-Catalog ... headers auth_token sets), keystonemiddleware's AuditMiddleware with the audit map from
[audit] audit_map_file, oslo.middleware's RequestId (inside the audit filter, as in Octavia), then the API. Delivery
of the audit notifications is configured as in a service: oslo.messaging's [oslo_messaging_notifications] and
[DEFAULT] transport_url / control_exchange in the --config-file, logging by oslo.log.

    /usr/bin/python3 octavia_api.py --config-file api.conf --identities identities.json

serves on 127.0.0.1 on a port the system picks, prints {"listening": "http://127.0.0.1:PORT"} and serves until
its stdin is closed. identities.json maps tokens to {user_id, user_name, project_id, project_name, roles}.
"""

import argparse
import json
import sys
import uuid
from wsgiref import simple_server

from keystonemiddleware import audit
from oslo_config import cfg
from oslo_log import log as logging
from oslo_middleware import request_id
import webob
import webob.dec

import harness

CONF = cfg.CONF
LOG = logging.getLogger("octavia_api")
CONF.register_opts(
    [
        cfg.BoolOpt("enabled", default=True),
        cfg.StrOpt("audit_map_file"),
        cfg.StrOpt("ignore_req_list", default=""),
    ],
    group="audit",
)

# What auth_token sets from a validated token; a caller's own values of these headers are never believed.
IDENTITY_HEADERS = (
    "X-Identity-Status",
    "X-User-Id",
    "X-User-Name",
    "X-User-Domain-Id",
    "X-User-Domain-Name",
    "X-Project-Id",
    "X-Project-Name",
    "X-Project-Domain-Id",
    "X-Project-Domain-Name",
    "X-Roles",
    "X-Service-Catalog",
)


class IdentityFilter:
    """Stands in for auth_token: 401 without a known token, else the identity headers of the token's user.

    The catalog is auth_token's v2 shape for a v3 token: per service {type, name, endpoints: [{region, publicURL,
    internalURL, adminURL}]}, without endpoint ids, so the audit target's id is the service name.
    """

    def __init__(self, app, identities, public_url):
        self.app = app
        self.identities = identities
        self.catalog = json.dumps(
            [
                {
                    "type": "identity",
                    "name": "keystone",
                    "endpoints": [
                        {
                            "region": "RegionOne",
                            "publicURL": "http://keystone.example:5000/v3",
                            "internalURL": "http://keystone.internal:5000/v3",
                            "adminURL": "http://keystone.example:5000/v3",
                        }
                    ],
                },
                {
                    "type": "load-balancer",
                    "name": "octavia",
                    "endpoints": [
                        {
                            "region": "RegionOne",
                            "publicURL": public_url,
                            "internalURL": public_url,
                            "adminURL": public_url,
                        }
                    ],
                },
            ]
        )

    @webob.dec.wsgify
    def __call__(self, req):
        for h in IDENTITY_HEADERS:
            req.headers.pop(h, None)
        who = self.identities.get(req.headers.get("X-Auth-Token", ""))
        if who is None:
            return fault(401, "The request you have made requires authentication.")
        req.headers.update(
            {
                "X-Identity-Status": "Confirmed",
                "X-User-Id": who["user_id"],
                "X-User-Name": who["user_name"],
                "X-User-Domain-Id": "default",
                "X-User-Domain-Name": "Default",
                "X-Project-Id": who["project_id"],
                "X-Project-Name": who["project_name"],
                "X-Project-Domain-Id": "default",
                "X-Project-Domain-Name": "Default",
                "X-Roles": ",".join(who["roles"]),
                "X-Service-Catalog": self.catalog,
            }
        )
        return req.get_response(self.app)


def fault(status, text):
    """Octavia's (pecan/WSME) error body."""
    return webob.Response(
        status=status,
        json_body={"faultcode": "Client" if status < 500 else "Server", "faultstring": text, "debuginfo": None},
    )


class NotFound(Exception):
    pass


# Collection -> (singular key in bodies, name in Octavia's messages).
KINDS = {
    "loadbalancers": ("loadbalancer", "Load Balancer"),
    "listeners": ("listener", "Listener"),
    "pools": ("pool", "Pool"),
}
UPDATABLE = {"name", "description", "admin_state_up", "lb_algorithm", "connection_limit", "tags"}


class OctaviaLikeAPI:
    """In-memory load balancers, listeners and pools, with the status codes Octavia answers."""

    def __init__(self):
        self.objects = {kind: {} for kind in KINDS}

    @webob.dec.wsgify
    def __call__(self, req):
        parts = [p for p in req.path_info.split("/") if p]
        try:
            if not parts:
                return self.versions(req)
            if parts == ["v2", "octavia", "amphorae"]:
                # An exception out of the API (no response): the audit filter's outcome `unknown` path.
                raise RuntimeError("amphora driver unreachable")
            if parts[:2] != ["v2", "lbaas"] or len(parts) < 3 or parts[2] not in KINDS:
                return fault(404, "The resource could not be found.")
            kind, rest = parts[2], parts[3:]
            if not rest:
                if req.method == "GET":
                    return self.list(req, kind)
                if req.method == "POST":
                    return self.create(req, kind)
            elif len(rest) == 1:
                if req.method == "GET":
                    return webob.Response(json_body={KINDS[kind][0]: self.find(req, kind, rest[0])})
                if req.method == "PUT":
                    return self.update(req, kind, rest[0])
                if req.method == "DELETE":
                    return self.delete(req, kind, rest[0])
            elif kind == "loadbalancers" and len(rest) == 2:
                lb = self.find(req, kind, rest[0])
                if rest[1] == "stats" and req.method == "GET":
                    stats = ("active_connections", "bytes_in", "bytes_out", "request_errors", "total_connections")
                    return webob.Response(json_body={"stats": dict.fromkeys(stats, 0)})
                if rest[1] == "failover" and req.method == "PUT":
                    lb["provisioning_status"] = "PENDING_UPDATE"
                    return webob.Response(status=202)
            return fault(405, "The method specified is not allowed for this resource.")
        except NotFound as e:
            return fault(404, str(e))

    def versions(self, req):
        return webob.Response(
            json_body={"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"href": req.host_url + "/v2"}]}]}
        )

    def find(self, req, kind, oid):
        obj = self.objects[kind].get(oid)
        if obj is None or obj["project_id"] != req.headers["X-Project-Id"]:
            raise NotFound("%s %s not found." % (KINDS[kind][1], oid))
        return obj

    def list(self, req, kind):
        mine = [o for o in self.objects[kind].values() if o["project_id"] == req.headers["X-Project-Id"]]
        limit = req.params.get("limit")
        if limit is not None:
            mine = mine[: int(limit)]
        return webob.Response(json_body={kind: mine, kind + "_links": []})

    def create(self, req, kind):
        key, title = KINDS[kind]
        try:
            spec = req.json_body[key]
        except (ValueError, KeyError, TypeError):
            return fault(400, "Invalid input for field/attribute %s." % key)
        obj = {
            "id": str(uuid.uuid4()),
            "project_id": req.headers["X-Project-Id"],
            "name": spec.get("name", ""),
            "description": spec.get("description", ""),
            "admin_state_up": spec.get("admin_state_up", True),
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
        }
        if kind == "loadbalancers":
            obj.update(vip_subnet_id=spec.get("vip_subnet_id"), vip_address="10.0.0.%d" % (len(self.objects[kind]) + 10))
        else:
            lb = self.find(req, "loadbalancers", spec.get("loadbalancer_id", ""))
            obj.update(protocol=spec.get("protocol"), loadbalancers=[{"id": lb["id"]}])
            if kind == "listeners":
                port = spec.get("protocol_port")
                for other in self.objects["listeners"].values():
                    if other["loadbalancers"][0]["id"] == lb["id"] and other["protocol_port"] == port:
                        return fault(
                            409, "Another Listener on this Load Balancer is already using protocol_port %s" % port
                        )
                obj["protocol_port"] = port
            else:
                obj.update(lb_algorithm=spec.get("lb_algorithm"), members=[])
        self.objects[kind][obj["id"]] = obj
        LOG.info("%s %s created", title, obj["id"])
        return webob.Response(status=201, json_body={key: obj})

    def update(self, req, kind, oid):
        key = KINDS[kind][0]
        obj = self.find(req, kind, oid)
        try:
            changes = req.json_body[key]
        except (ValueError, KeyError, TypeError):
            return fault(400, "Invalid input for field/attribute %s." % key)
        obj.update({k: v for k, v in changes.items() if k in UPDATABLE})
        return webob.Response(json_body={key: obj})

    def delete(self, req, kind, oid):
        self.find(req, kind, oid)
        del self.objects[kind][oid]
        return webob.Response(status=204)


class QuietHandler(simple_server.WSGIRequestHandler):
    """wsgiref logs every request to stderr; the service's log is oslo.log's."""

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--identities", required=True)
    args = parser.parse_args()
    logging.register_options(CONF)
    CONF(["--config-file", args.config_file], project="octavia")
    logging.setup(CONF, "octavia")
    with open(args.identities) as f:
        identities = json.load(f)

    server = simple_server.make_server("127.0.0.1", 0, None, handler_class=QuietHandler)
    public_url = "http://127.0.0.1:%d/" % server.server_port
    # As octavia/api/app.py wraps its pecan app (minus CORS, proxy headers and the size limit).
    app = request_id.RequestId(OctaviaLikeAPI())
    if CONF.audit.enabled:
        app = audit.AuditMiddleware(
            app, audit_map_file=CONF.audit.audit_map_file, ignore_req_list=CONF.audit.ignore_req_list
        )
    app = IdentityFilter(app, identities, public_url)
    server.set_app(app)

    harness.on_stdin_closed(server.shutdown)
    harness.say({"listening": public_url.rstrip("/")})
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
