{{/* Chart name, truncated to the 63 characters Kubernetes allows in a label. */}}
{{- define "ragstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name: <release>-ragstream unless the release name already holds it. */}}
{{- define "ragstream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ragstream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ragstream.labels" -}}
helm.sh/chart: {{ include "ragstream.chart" . }}
{{ include "ragstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ragstream
{{- end }}

{{- define "ragstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ragstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The Deployment (and Service, ScaledObject) name of one stage: <fullname>-<stage>. */}}
{{- define "ragstream.stageName" -}}
{{- printf "%s-%s" (include "ragstream.fullname" .root) .stage | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ragstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ragstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ragstream.secretName" -}}
{{- default (printf "%s-secrets" (include "ragstream.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "ragstream.homeClaim" -}}
{{- default (printf "%s-home" (include "ragstream.fullname" .)) .Values.home.persistence.existingClaim }}
{{- end }}

{{- define "ragstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Kafka settings (services.common.settings.KafkaSettings) as RAGSTREAM_KAFKA__* variables. Used alone
by the topic-init hook, which runs before the release's Secret exists.
*/}}
{{- define "ragstream.kafkaEnv" -}}
- name: RAGSTREAM_KAFKA__BOOTSTRAP
  value: {{ required "kafka.bootstrap is required (terraform output msk_bootstrap_brokers)" .Values.kafka.bootstrap | quote }}
{{- with .Values.kafka.schemaRegistryUrl }}
- name: RAGSTREAM_KAFKA__SCHEMA_REGISTRY_URL
  value: {{ . | quote }}
{{- end }}
- name: RAGSTREAM_KAFKA__PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: RAGSTREAM_KAFKA__REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: RAGSTREAM_KAFKA__TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: RAGSTREAM_KAFKA__SESSION_TIMEOUT_MS
  value: {{ .Values.kafka.sessionTimeoutMs | quote }}
- name: RAGSTREAM_KAFKA__HEARTBEAT_INTERVAL_MS
  value: {{ .Values.kafka.heartbeatIntervalMs | quote }}
- name: RAGSTREAM_KAFKA__MAX_POLL_RECORDS
  value: {{ .Values.kafka.maxPollRecords | quote }}
{{- end }}

{{/* Everything a stage reads: the settings tree as RAGSTREAM_* variables, secrets from the Secret. */}}
{{- define "ragstream.env" -}}
- name: RAGSTREAM_HOME
  value: {{ .Values.home.mountPath | quote }}
- name: RAGSTREAM_TENANT
  value: {{ .Values.tenant | quote }}
- name: RAGSTREAM_LOG_FORMAT
  value: json
- name: RAGSTREAM_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: RAGSTREAM_ADMIN_HOST
  value: "0.0.0.0"
- name: RAGSTREAM_ADMIN_PORT
  value: {{ .Values.metrics.port | quote }}
{{ include "ragstream.kafkaEnv" . }}
- name: RAGSTREAM_STORES__QDRANT_URL
  value: {{ .Values.stores.qdrantUrl | quote }}
- name: RAGSTREAM_STORES__NEO4J_URI
  value: {{ .Values.stores.neo4jUri | quote }}
- name: RAGSTREAM_STORES__NEO4J_USER
  value: {{ .Values.stores.neo4jUser | quote }}
- name: RAGSTREAM_STORES__COLLECTION_ALIAS
  value: {{ .Values.stores.collectionAlias | quote }}
- name: RAGSTREAM_STORES__NEO4J_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "ragstream.secretName" . }}
      key: neo4j-password
- name: RAGSTREAM_STORES__POSTGRES_DSN
  valueFrom:
    secretKeyRef:
      name: {{ include "ragstream.secretName" . }}
      key: postgres-dsn
      optional: true
- name: RAGSTREAM_STORES__QDRANT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ragstream.secretName" . }}
      key: qdrant-api-key
      optional: true
{{- with .Values.models.embeddingsUrl }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_URL
  value: {{ . | quote }}
{{- end }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_MODEL
  value: {{ .Values.models.embeddingsModel | quote }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_DIM
  value: {{ .Values.models.embeddingsDim | quote }}
- name: RAGSTREAM_MODELS__EMBED_BATCH_SIZE
  value: {{ .Values.models.embedBatchSize | quote }}
- name: RAGSTREAM_MODELS__CHUNK_MAX_TOKENS
  value: {{ .Values.models.chunkMaxTokens | quote }}
- name: RAGSTREAM_MODELS__CHUNK_OVERLAP_TOKENS
  value: {{ .Values.models.chunkOverlapTokens | quote }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ragstream.secretName" . }}
      key: embeddings-api-key
      optional: true
- name: RAGSTREAM_PIPELINE__RETRY_ATTEMPTS
  value: {{ .Values.pipeline.retryAttempts | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
