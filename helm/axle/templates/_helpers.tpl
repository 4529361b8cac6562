{{/*
Names. Every object is "<release>-<component>" (axle-vin, axle-plate, axle-sandbox), so a
service's address inside the namespace is predictable and example values can name it.
*/}}
{{- define "axle.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "axle.selectorLabels" -}}
app.kubernetes.io/name: axle
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "axle.labels" -}}
{{ include "axle.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "axle.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{/* The Secret holding vendor credentials: never created by the chart (values are not a
place for secrets), only referenced. */}}
{{- define "axle.credentialsSecret" -}}
{{- .Values.credentials.existingSecret | default (printf "%s-vendor-credentials" .Release.Name) -}}
{{- end -}}

{{/*
Deep merge of two maps, (list base override) -> YAML. Sprig's mergeOverwrite cannot be
used: it never lets a false, 0 or "" in the override win, so `enabled: false` under a
service would silently lose to `enabled: true` in the defaults. Lists are replaced whole;
a null in the override removes the key.
*/}}
{{- define "axle.merge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- range $k, $v := index . 1 -}}
{{- if and (kindIs "map" $v) (kindIs "map" (get $out $k)) -}}
{{- $_ := set $out $k (include "axle.merge" (list (get $out $k) $v) | fromYaml) -}}
{{- else if kindIs "invalid" $v -}}
{{- $_ := unset $out $k -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
One service's effective settings: `defaults`, then its block under `services`, with the
listen addresses its ports imply written into its config. (dict "root" $ "name" NAME)
*/}}
{{- define "axle.service" -}}
{{- $s := include "axle.merge" (list .root.Values.defaults (index .root.Values.services .name)) | fromYaml -}}
{{- $server := dict "listen" (printf "0.0.0.0:%v" (int $s.grpcPort)) "metrics_listen" (printf "0.0.0.0:%v" (int $s.metricsPort)) -}}
{{- $cfg := include "axle.merge" (list ($s.config | default dict) (dict "server" $server)) | fromYaml -}}
{{- /* Values may name the release, e.g. base_url: "http://{{ .Release.Name }}-sandbox:50080". */ -}}
{{- $cfg = tpl (toYaml $cfg) .root | fromYaml -}}
{{- $_ := set $s "config" $cfg -}}
{{- toYaml $s -}}
{{- end -}}

{{/*
TOML from a map, for the services' typed configuration. Helm's toToml cannot be used:
values arrive as float64, so it writes `max_concurrent_requests = 1024.0`, which the
services' integer fields refuse. Here a whole number is written as an integer (a float
field accepts an integer too), scalars and arrays come before sub-tables, and null
removes a key (the service's default applies).
*/}}
{{- define "axle.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{- define "axle.toml.value" -}}
{{- if kindIs "string" . -}}{{ toJson . }}
{{- else if kindIs "bool" . -}}{{ . }}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) -}}
{{- if eq (float64 (int64 .)) (float64 .) -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- else if or (kindIs "int" .) (kindIs "int64" .) -}}{{ . }}
{{- else if kindIs "slice" . -}}
{{- $items := list -}}
{{- range . -}}{{- $items = append $items (include "axle.toml.value" .) -}}{{- end -}}
[{{ join ", " $items }}]
{{- else if kindIs "map" . -}}
{{- $items := list -}}
{{- range $k, $v := . -}}{{- if not (kindIs "invalid" $v) -}}{{- $items = append $items (printf "%s = %s" (include "axle.toml.key" $k) (include "axle.toml.value" $v)) -}}{{- end -}}{{- end -}}
{ {{- join ", " $items -}} }
{{- else -}}
{{- fail (printf "cannot write %v (%s) as TOML" . (kindOf .)) -}}
{{- end -}}
{{- end -}}

{{- define "axle.toml.table" -}}
{{- $table := .table -}}
{{- $prefix := .prefix -}}
{{- range $k, $v := $table -}}
{{- if and (not (kindIs "map" $v)) (not (kindIs "invalid" $v)) }}
{{ include "axle.toml.key" $k }} = {{ include "axle.toml.value" $v }}
{{- end -}}
{{- end -}}
{{- range $k, $v := $table -}}
{{- if kindIs "map" $v }}

[{{ $prefix }}{{ include "axle.toml.key" $k }}]
{{- include "axle.toml.table" (dict "table" $v "prefix" (printf "%s%s." $prefix (include "axle.toml.key" $k))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "axle.toml" -}}
{{- include "axle.toml.table" (dict "table" . "prefix" "") | trim -}}
{{- end -}}

{{/*
Seconds in a configuration duration ("250ms", "5s", "1m30s", "2h"), rounded up: the
same forms the services parse (settings::duration).
*/}}
{{- define "axle.seconds" -}}
{{- $text := toString . -}}
{{- if not (regexMatch "^([0-9]+(ms|us|s|m|h))+$" $text) -}}
{{- fail (printf "%q is not a duration such as \"5s\", \"250ms\" or \"1m30s\"" $text) -}}
{{- end -}}
{{- $ms := 0 -}}
{{- range regexFindAll "[0-9]+(ms|us|s|m|h)" $text -1 -}}
{{- $n := regexFind "^[0-9]+" . | int64 -}}
{{- $unit := trimPrefix (regexFind "^[0-9]+" .) . -}}
{{- if eq $unit "h" -}}{{- $ms = add $ms (mul $n 3600000) -}}
{{- else if eq $unit "m" -}}{{- $ms = add $ms (mul $n 60000) -}}
{{- else if eq $unit "s" -}}{{- $ms = add $ms (mul $n 1000) -}}
{{- else if eq $unit "ms" -}}{{- $ms = add $ms $n -}}
{{- else -}}{{- $ms = add $ms (div (add $n 999) 1000) -}}
{{- end -}}
{{- end -}}
{{- div (add $ms 999) 1000 -}}
{{- end -}}

{{- define "axle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default .Release.Name -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}
