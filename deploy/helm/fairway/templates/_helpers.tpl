{{/* Name of Fairway's objects: the release (the pool) with an -epp suffix, as the upstream chart names its EPP. */}}
{{- define "fairway.name" -}}
{{ .Release.Name }}-epp
{{- end -}}

{{- define "fairway.selectorLabels" -}}
app.kubernetes.io/name: fairway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fairway.labels" -}}
{{ include "fairway.selectorLabels" . }}
app.kubernetes.io/component: endpoint-picker
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "fairway.image" -}}
{{- with .Values.inferenceExtension.image.registry }}{{ . }}/{{ end -}}
{{ .Values.inferenceExtension.image.repository }}:{{ .Values.inferenceExtension.image.tag }}
{{- end -}}
