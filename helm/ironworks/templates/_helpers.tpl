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

{{/* The in-chart Redis: a password from the Secret (Kubernetes expands $(REDIS_PASSWORD)
     from the variable defined just before), TLS when redis.tls.secretName is set. */}}
{{- define "ironworks.redisUrl" -}}
{{- if .Values.redis.url -}}
{{ .Values.redis.url }}
{{- else if .Values.redis.tls.secretName -}}
{{ printf "rediss://:$(REDIS_PASSWORD)@%s-redis:6379/0?ssl_ca_certs=/tls/redis/ca.crt" (include "ironworks.fullname" .) }}
{{- else -}}
{{ printf "redis://:$(REDIS_PASSWORD)@%s-redis:6379/0" (include "ironworks.fullname" .) }}
{{- end -}}
{{- end -}}

{{- define "ironworks.redisPasswordEnv" -}}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "ironworks.secretName" . }}
      key: redis-password
{{- end -}}

{{/* Where pods find the CA of the in-chart Redis's TLS certificate. */}}
{{- define "ironworks.redisTlsMount" -}}
{{- if and (not .Values.redis.url) .Values.redis.tls.secretName }}
- {name: redis-tls, mountPath: /tls/redis, readOnly: true}
{{- end }}
{{- end -}}

{{- define "ironworks.redisTlsVolume" -}}
{{- if and (not .Values.redis.url) .Values.redis.tls.secretName }}
- name: redis-tls
  secret: {secretName: {{ .Values.redis.tls.secretName }}}
{{- end }}
{{- end -}}

{{- define "ironworks.env" -}}
{{- if not .Values.redis.url }}
{{ include "ironworks.redisPasswordEnv" . }}
{{- end }}
- name: IRONWORKS_REDIS_URL
  value: {{ include "ironworks.redisUrl" . | quote }}
- name: IRONWORKS_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "ironworks.secretName" . }}
      key: admin-token
- name: IRONWORKS_SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ironworks.secretName" . }}
      key: secrets-key
      optional: true
- name: IRONWORKS_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: IRONWORKS_REDIS_MIN_REPLICAS
  value: {{ .Values.redis.minReplicas | quote }}
{{- end -}}
