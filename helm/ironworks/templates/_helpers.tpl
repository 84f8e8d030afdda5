{{- define "ironworks.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ironworks.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "ironworks.secretName" -}}
{{- default (printf "%s-secret" (include "ironworks.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "ironworks.redisUrl" -}}
{{- default (printf "redis://%s-redis:6379/0" (include "ironworks.fullname" .)) .Values.redis.url -}}
{{- end -}}

{{- define "ironworks.env" -}}
- name: IRONWORKS_REDIS_URL
  value: {{ include "ironworks.redisUrl" . | quote }}
- name: IRONWORKS_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "ironworks.secretName" . }}
      key: admin-token
- name: IRONWORKS_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- end -}}
