{{/* The name of every object: includes the release name (DPF's contract). */}}
{{- define "sfcd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the pods. */}}
{{- define "sfcd.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "sfcd.labels" -}}
{{ include "sfcd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The control socket inside the container. */}}
{{- define "sfcd.socket" -}}
/run/sfcd/sfcd.sock
{{- end -}}

{{/* The probe command: sfcctl status --quiet. */}}
{{- define "sfcd.probeCommand" -}}
- sfcctl
- --socket
- {{ include "sfcd.socket" . }}
- --timeout
- {{ .Values.probes.answerTimeout | quote }}
- status
- --quiet
{{- end -}}
