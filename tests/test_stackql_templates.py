"""Templates as StackQL users write them (Go text/template, <<<jsonnet blocks, jsonnet --iqldata files) render
as StackQL renders them. Each case names its public source; the expected text is what StackQL's preprocessor
(go-jsonnet, then text/template over the data, maps and lists printed as JSON) gives for the same input."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyql.sql import datablocks
from skyql.sql.template import render_script

# stackql/stackql-exec README.md, "Query File example" (google-example.iql), run with
# vars: GOOGLE_PROJECT=...,GOOGLE_ZONE=...
EXEC_README = (
    """<<<jsonnet
local project = std.extVar("GOOGLE_PROJECT");
local zone = std.extVar("GOOGLE_ZONE");
{
   project: project,
   zone: zone,
}
>>>
SELECT status, count(*) as num_instances
FROM google.compute.instances
WHERE project = '{{ .project }}' and zone = '{{ .zone }}'
GROUP BY status;
""",
    {"GOOGLE_PROJECT": "stackql-demo", "GOOGLE_ZONE": "australia-southeast1-a"},
    """SELECT status, count(*) as num_instances
FROM google.compute.instances
WHERE project = 'stackql-demo' and zone = 'australia-southeast1-a'
GROUP BY status;""",
)

# A public shell script that writes a StackQL script for a Compute disk and instance (the <<<jsonnet block holds
# a "values" object; sizeGb is used as a bare number, disks as a JSON list).
DISK_AND_VM = (
    """<<<jsonnet
local base_name = "dd2-008";
local disk_name = "demo-disk-dd2-008";
local vm_name = "demo-vm-dd2-008";
{
  "values": {
    "project": "lab-kr-network-01",
    "zone": "australia-southeast1-b",
    "disk": {
      "name": disk_name,
      "sizeGb": 10
    },
    "vm": {
      "name": vm_name,
      "sizeGb": 10,
      "disks": [ { "source": "projects/lab-kr-network-01/zones/australia-southeast1-b/disks/" + disk_name, "boot": true } ]
    }
  }
}
>>>
insert /*+ AWAIT */ into compute.disks(
  project,
  zone,
  data__name,
  data__sizeGb
)
SELECT
  '{{ .values.project }}',
  '{{ .values.zone }}',
  '{{ .values.disk.name }}',
  {{ .values.disk.sizeGb }}
;
INSERT /*+ AWAIT */ INTO compute.instances(
  zone,
  project,
  data__name,
  data__disks
)
VALUES (
   '{{ .values.zone }}',
   '{{ .values.project }}',
   '{{ .values.vm.name }}',
   '{{ .values.vm.disks }}'
);
""",
    {},
    """insert /*+ AWAIT */ into compute.disks(
  project,
  zone,
  data__name,
  data__sizeGb
)
SELECT
  'lab-kr-network-01',
  'australia-southeast1-b',
  'demo-disk-dd2-008',
  10
;
INSERT /*+ AWAIT */ INTO compute.instances(
  zone,
  project,
  data__name,
  data__disks
)
VALUES (
   'australia-southeast1-b',
   'lab-kr-network-01',
   'demo-vm-dd2-008',
   '[{"boot":true,"source":"projects/lab-kr-network-01/zones/australia-southeast1-b/disks/demo-disk-dd2-008"}]'
);""",
)

# stackql.io cookbook "Azure activity logs": a jsonnet value that already doubles its quotes for the '...' it
# goes into (StackQL does not escape values); run with --var startdate=...
PRE_ESCAPED = (
    """<<<jsonnet
{
  stackqlQuery: {
    subscriptionId: '631d1c6d-2a65-43e7-93c2-688bfe4e1468',
    filter: "eventTimestamp ge ''" + std.extVar('startdate') + "''",
  }
}
>>>
SELECT level, COUNT(*) as num_events
FROM azure.monitor.activity_logs
WHERE $filter =  '{{ .stackqlQuery.filter }}'
AND subscriptionId = '{{ .stackqlQuery.subscriptionId }}'
GROUP BY level;
""",
    {"startdate": "2024-01-29T00:00:00Z"},
    """SELECT level, COUNT(*) as num_events
FROM azure.monitor.activity_logs
WHERE $filter =  'eventTimestamp ge ''2024-01-29T00:00:00Z'''
AND subscriptionId = '631d1c6d-2a65-43e7-93c2-688bfe4e1468'
GROUP BY level;""",
)

# Go's own idioms as StackQL scripts use them: $root, range with index, index into a map, printf, with/else,
# eq/and/or/not, len, pipelines (the shape of metal-stack's documented `-o template` example).
GO_IDIOMS = (
    """<<<json
{"project": "demo-project", "zones": ["us-central1-a", "us-central1-b"],
 "owners": {"us-central1-a": "team-a"}, "labels": {"env": "prod"}, "limit": 2}
>>>
{{ $root := . }}{{ range $i, $zone := .zones }}
SELECT {{ $i }} AS n, '{{ printf "%s/%s" $root.project $zone }}' AS path,
  '{{ with index $root.owners $zone }}{{ . }}{{ else }}nobody{{ end }}' AS owner,
  '{{ if and (eq $i 0) (gt (len $root.zones) 1) }}first of many{{ else }}rest{{ end }}' AS note,
  '{{ $root.labels | printf "%v" }}' AS labels
LIMIT {{ $root.limit }};
{{ end }}
""",
    {},
    """SELECT 0 AS n, 'demo-project/us-central1-a' AS path,
  'team-a' AS owner,
  'first of many' AS note,
  '{"env":"prod"}' AS labels
LIMIT 2;

SELECT 1 AS n, 'demo-project/us-central1-b' AS path,
  'nobody' AS owner,
  'rest' AS note,
  '{"env":"prod"}' AS labels
LIMIT 2;""",
)


@pytest.mark.parametrize(
    ("script", "variables", "stackql"),
    [EXEC_README, DISK_AND_VM, PRE_ESCAPED, GO_IDIOMS],
    ids=["stackql-exec-readme", "disk-and-vm", "pre-escaped-filter", "go-idioms"],
)
def test_a_stackql_script_renders_as_stackql_renders_it(script, variables, stackql):
    rendered = render_script(script, variables)
    assert rendered.text.strip() == stackql


# StackQL docs, "Using Variables": vars.jsonnet given with --iqldata, and a loop over its firewalls. (The page
# writes '{{ .global.project }}' inside the range, which Go resolves against the firewall and fails; the working
# spelling, used here, is $.global.project.)
VARS_JSONNET = """// variables
local project = 'stackql-demo';
local region = 'australia-southeast1';
local name = 'myapp';
local nw_name = name + '-vpc';
local nw_self_link = 'https://compute.googleapis.com/compute/v1/projects/' + project + '/global/networks/' + nw_name + '/';

{
  // global config
  global: {
    project: project,
  },

  // firewall rules
  firewalls: [
    {
      allowed: [{IPProtocol: 'tcp'}, {IPProtocol: 'udp'}, {IPProtocol: 'icmp'}],
      direction: 'INGRESS',
      name: name + '-allow-internal-fw',
      network: nw_self_link,
      sourceRanges: ['10.240.0.0/24', '10.200.0.0/16']
    },
    {
      allowed: [{IPProtocol: 'tcp', ports: ['22']}, {IPProtocol: 'tcp', ports: ['6443']},{IPProtocol: 'icmp'}],
      direction: 'INGRESS',
      name: name + '-allow-external-fw',
      network: nw_self_link,
      sourceRanges: ['0.0.0.0/0']
    }
  ],
}
"""

FIREWALLS = """{{range .firewalls}}
INSERT /*+ AWAIT  */ INTO compute.firewalls
(
 project,
 data__name,
 data__network,
 data__direction,
 data__sourceRanges,
 data__allowed
)
SELECT
'{{ $.global.project }}',
'{{.name}}',
'{{.network}}',
'{{.direction}}',
'{{.sourceRanges}}',
'{{.allowed}}';
{{end}}
"""


def test_the_docs_firewall_example_with_a_jsonnet_iqldata_file(tmp_path: Path):
    (tmp_path / "vars.jsonnet").write_text(VARS_JSONNET)
    data = datablocks.load_file(tmp_path / "vars.jsonnet", {}, imports=True)
    rendered = render_script(FIREWALLS, data).text
    network = "https://compute.googleapis.com/compute/v1/projects/stackql-demo/global/networks/myapp-vpc/"
    assert rendered.count("INSERT /*+ AWAIT  */ INTO compute.firewalls") == 2
    assert (
        "SELECT\n'stackql-demo',\n'myapp-allow-internal-fw',\n"
        f"'{network}',\n'INGRESS',\n"
        '\'["10.240.0.0/24","10.200.0.0/16"]\',\n'
        '\'[{"IPProtocol":"tcp"},{"IPProtocol":"udp"},{"IPProtocol":"icmp"}]\';'
    ) in rendered
    assert (
        "'[\"0.0.0.0/0\"]',\n"
        '\'[{"IPProtocol":"tcp","ports":["22"]},{"IPProtocol":"tcp","ports":["6443"]},'
        '{"IPProtocol":"icmp"}]\';'
    ) in rendered


# stackql/stackql-deploy, examples/google/k8s-the-hard-way/resources/firewalls.iql (its create and statecheck
# queries): Jinja, values in '...', JSON values as stackql-deploy passes them (JSON text).
def test_a_stackql_deploy_resource_file_renders_as_stackql_deploy_renders_it():
    query = (
        "INSERT INTO google.compute.firewalls\n(\n project,\n data__name,\n data__network,\n data__direction,\n"
        " data__sourceRanges,\n data__allowed\n) \nSELECT\n '{{ project }}',\n '{{ fw_name}}',\n"
        " '{{ vpc_link }}',\n '{{ fw_direction }}',\n '{{ fw_source_ranges }}',\n '{{ fw_allowed }}'\n"
    )
    context = {
        "project": "stackql-k8s-the-hard-way-demo",
        "fw_name": "kubernetes-the-hard-way-dev-allow-internal-fw",
        "vpc_link": "projects/stackql-k8s-the-hard-way-demo/global/networks/kubernetes-the-hard-way-dev-vpc",
        "fw_direction": "INGRESS",
        "fw_source_ranges": '["10.240.0.0/24", "10.200.0.0/16"]',
        "fw_allowed": '[{"IPProtocol": "tcp"}, {"IPProtocol": "udp"}, {"IPProtocol": "icmp"}]',
    }
    expected = query
    for name, value in context.items():
        expected = expected.replace("{{ " + name + " }}", value).replace("{{ " + name + "}}", value)
    assert render_script(query, context).text == expected


def test_stackql_deploy_jinja_filters_render_as_there():
    template = (
        "SELECT CASE WHEN COUNT(*) = {{ num_instances | int }} THEN 1 ELSE 0 END AS count\n"
        "FROM google.compute.instances WHERE instance IN ({% for i in range(num_instances | int) %}"
        "'{{ instance_name_prefix }}-{{ loop.index }}'{% if not loop.last %}, {% endif %}{% endfor %})\n"
        "AND data__scheduling = '{{ scheduling | tojson }}'"
    )
    rendered = render_script(
        template,
        {"num_instances": "2", "instance_name_prefix": "controller", "scheduling": {"b": 1, "a": "x"}},
    ).text
    assert rendered == (
        "SELECT CASE WHEN COUNT(*) = 2 THEN 1 ELSE 0 END AS count\n"
        "FROM google.compute.instances WHERE instance IN ('controller-1', 'controller-2')\n"
        'AND data__scheduling = \'{"a": "x", "b": 1}\''
    )
