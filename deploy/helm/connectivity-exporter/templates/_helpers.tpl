{{/* The chart's name, or nameOverride. */}}
{{- define "cx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of the release's objects: the release name when it already holds
the chart's name (helm install connectivity-exporter ...), else
release-chart; fullnameOverride replaces both.
*/}}
{{- define "cx.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "cx.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "cx.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The health DaemonSet's name. */}}
{{- define "cx.healthName" -}}
{{- printf "%s-health" (include "cx.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The version that runs: the image's tag (the chart's appVersion by default). */}}
{{- define "cx.version" -}}
{{- default .Chart.AppVersion .Values.image.tag | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cx.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "cx.version" .) -}}
{{- end -}}
{{- end -}}

{{/*
The recommended labels (app.kubernetes.io/*) of the exporter's objects.
The health pods are named connectivity-health: the exporter's default
--nodes.kubernetes.health-pods.selector finds them by that name.
*/}}
{{- define "cx.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cx.selectorLabels" . }}
app.kubernetes.io/version: {{ include "cx.version" . | quote }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: connectivity-exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "cx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cx.healthLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cx.healthSelectorLabels" . }}
app.kubernetes.io/version: {{ include "cx.version" . | quote }}
app.kubernetes.io/component: health
app.kubernetes.io/part-of: connectivity-exporter
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "cx.healthSelectorLabels" -}}
app.kubernetes.io/name: connectivity-health
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cx.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cx.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The PriorityClass of both DaemonSets: the chart's own, or one named. */}}
{{- define "cx.priorityClassName" -}}
{{- if .Values.priorityClass.create -}}
{{- default (include "cx.fullname" .) .Values.priorityClass.name -}}
{{- else -}}
{{- .Values.priorityClass.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the exporter-toolkit web configuration, if any. */}}
{{- define "cx.webConfigSecret" -}}
{{- if .Values.webConfig.existingSecret -}}
{{- .Values.webConfig.existingSecret -}}
{{- else if .Values.webConfig.config -}}
{{- printf "%s-web-config" (include "cx.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The relabelings both monitors share: the job label that the rules and
dashboards select, and the node name as `node` and `instance`.
*/}}
{{- define "cx.relabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
- sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: instance
- targetLabel: job
  replacement: {{ .Values.monitoring.job }}
{{- with .Values.monitoring.extraRelabelings }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The monitors' spec fields for native histograms (monitoring.nativeHistograms):
the protobuf format first, the only one that carries native histograms
(the order Prometheus itself uses when it scrapes native histograms;
prometheus-operator leaves PrometheusText1.0.0 out for Prometheus 2),
and the classic buckets kept beside them (always_scrape_classic_histograms),
as deploy/kubernetes/prometheus-scrape.yml does. prometheus-operator
v0.85.0 has no field for scrape_native_histograms itself: the chart's
README says what turns it on.
*/}}
{{- define "cx.histogramScrape" -}}
{{- if .Values.monitoring.nativeHistograms -}}
scrapeProtocols:
  - PrometheusProto
  - OpenMetricsText1.0.0
  - OpenMetricsText0.0.1
  - PrometheusText1.0.0
  - PrometheusText0.0.4
scrapeClassicHistograms: true
{{- end -}}
{{- end -}}

{{/*
A rules or dashboard file with the job selector the files are written for
(job="connectivity") turned into monitoring.job.
*/}}
{{- define "cx.withJob" -}}
{{- $file := index . 0 -}}
{{- $job := index . 1 -}}
{{- if eq $job "connectivity" -}}
{{- $file -}}
{{- else -}}
{{- $file | replace "job=\"connectivity\"" (printf "job=%q" $job) | replace "job=\\\"connectivity\\\"" (printf "job=\\\"%s\\\"" $job) -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the metrics listener serves TLS: webConfig.tls, or a
tls_server_config in webConfig.config.
*/}}
{{- define "cx.webTLS" -}}
{{- if or .Values.webConfig.tls (and .Values.webConfig.config (hasKey .Values.webConfig.config "tls_server_config")) -}}
true
{{- end -}}
{{- end -}}

{{/*
"true" when the metrics listener asks for basic auth: webConfig.basicAuth,
or basic_auth_users in webConfig.config.
*/}}
{{- define "cx.webBasicAuth" -}}
{{- if or .Values.webConfig.basicAuth (and .Values.webConfig.config (hasKey .Values.webConfig.config "basic_auth_users")) -}}
true
{{- end -}}
{{- end -}}

{{/*
A kubelet probe of the metrics listener (list: probe, TLS, basic auth),
asking over HTTPS when it serves TLS (the kubelet does not verify the
certificate). With basic auth, exporter-toolkit answers every path, the
probes' too, 401 without credentials, and the chart knows only their
bcrypt hashes: an httpGet probe becomes a tcpSocket probe of the same
port (the listener accepts), unless it sends an Authorization header of
its own (httpHeaders).
*/}}
{{- define "cx.metricsProbe" -}}
{{- $probe := deepCopy (index . 0) -}}
{{- if and (index . 1) $probe.httpGet (not $probe.httpGet.scheme) -}}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- if and (index . 2) $probe.httpGet -}}
{{- $authorized := false -}}
{{- range ($probe.httpGet.httpHeaders | default list) -}}
{{- if eq (lower .name) "authorization" -}}{{- $authorized = true -}}{{- end -}}
{{- end -}}
{{- if not $authorized -}}
{{- $_ := set $probe "tcpSocket" (dict "port" $probe.httpGet.port) -}}
{{- $_ := unset $probe "httpGet" -}}
{{- end -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}
