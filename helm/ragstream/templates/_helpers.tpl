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

{{/* The workload (and Service, ScaledObject, PDB) name of one role: <fullname>-<role>. */}}
{{- define "ragstream.roleName" -}}
{{- printf "%s-%s" (include "ragstream.fullname" .root) .role | trunc 63 | trimSuffix "-" }}
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

{{/* The RayService's Serve endpoint (KubeRay names the Service <rayservice>-serve-svc). */}}
{{- define "ragstream.modelsUrl" -}}
{{- printf "http://%s-models-serve-svc:8000" (include "ragstream.fullname" .) }}
{{- end }}

{{/*
Kafka settings (services.common.settings.KafkaSettings) as RAGSTREAM_KAFKA__* variables, the SASL
password from the Secret. Used alone by the topic-init hook.
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
- name: RAGSTREAM_KAFKA__SECURITY_PROTOCOL
  value: {{ .Values.kafka.security.protocol | quote }}
{{- with .Values.kafka.security.saslMechanism }}
- name: RAGSTREAM_KAFKA__SASL_MECHANISM
  value: {{ . | quote }}
- name: RAGSTREAM_KAFKA__SASL_USERNAME
  value: {{ required "kafka.security.username is required with a SASL mechanism" $.Values.kafka.security.username | quote }}
{{ include "ragstream.secretEnv" (dict "root" $ "name" "RAGSTREAM_KAFKA__SASL_PASSWORD" "key" "kafka-password") }}
{{- end }}
{{- end }}

{{/*
What KEDA's kafka scaler reads through the TriggerAuthentication besides the password: its own
names for the mechanism (scram_sha512, ...) and TLS, kept in the Secret beside the password.
*/}}
{{- define "ragstream.kedaKafkaKeys" -}}
kafka-username: {{ .Values.kafka.security.username | quote }}
kafka-sasl: {{ .Values.kafka.security.saslMechanism | lower | replace "-" "_" | quote }}
kafka-tls: {{ ternary "enable" "disable" (hasSuffix "SSL" .Values.kafka.security.protocol) | quote }}
{{- end }}

{{- define "ragstream.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "ragstream.secretName" .root }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/* Everything a role reads: the settings tree as RAGSTREAM_* variables, secrets from the Secret. */}}
{{- define "ragstream.env" -}}
- name: RAGSTREAM_HOME
  value: {{ .Values.home.mountPath | quote }}
- name: RAGSTREAM_DEPLOYMENT_ID
  value: {{ include "ragstream.deploymentId" . | quote }}
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
{{- with .Values.external.s3.bucket }}
- name: RAGSTREAM_STORES__BLOB_URL
  value: {{ printf "s3://%s/%s" . $.Values.external.s3.prefix | quote }}
- name: RAGSTREAM_STORES__S3_REGION
  value: {{ $.Values.external.s3.region | quote }}
{{- end }}
{{- with .Values.external.redis.url }}
- name: RAGSTREAM_GATEWAY__REDIS_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.gateway.publicUrl }}
- name: RAGSTREAM_GATEWAY__PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{ include "ragstream.secretEnv" (dict "root" . "name" "RAGSTREAM_STORES__NEO4J_PASSWORD" "key" "neo4j-password") }}
{{ include "ragstream.secretEnv" (dict "root" . "name" "RAGSTREAM_GATEWAY__JWT_SECRET" "key" "jwt-secret") }}
{{ include "ragstream.secretEnv" (dict "root" . "name" "RAGSTREAM_STORES__POSTGRES_DSN" "key" "postgres-dsn" "optional" true) }}
{{ include "ragstream.secretEnv" (dict "root" . "name" "RAGSTREAM_STORES__QDRANT_API_KEY" "key" "qdrant-api-key" "optional" true) }}
{{ include "ragstream.secretEnv" (dict "root" . "name" "RAGSTREAM_MODELS__EMBEDDINGS_API_KEY" "key" "embeddings-api-key" "optional" true) }}
{{- $served := .Values.modelServing.enabled }}
{{- $embed := ternary (printf "%s/embed" (include "ragstream.modelsUrl" .)) .Values.models.embeddingsUrl $served }}
{{- $rerank := ternary (printf "%s/rerank" (include "ragstream.modelsUrl" .)) .Values.models.rerankUrl $served }}
{{- $llm := ternary (printf "%s/llm" (include "ragstream.modelsUrl" .)) .Values.models.llmUrl $served }}
{{- with $embed }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_URL
  value: {{ . | quote }}
{{- end }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_MODEL
  value: {{ ternary .Values.modelServing.embeddingsModel .Values.models.embeddingsModel $served | quote }}
- name: RAGSTREAM_MODELS__EMBEDDINGS_DIM
  value: {{ ternary .Values.modelServing.embeddingsDim .Values.models.embeddingsDim $served | quote }}
{{- with $rerank }}
- name: RAGSTREAM_MODELS__RERANK_URL
  value: {{ . | quote }}
{{- end }}
{{- if $served }}
- name: RAGSTREAM_MODELS__RERANK_MODEL
  value: {{ .Values.modelServing.rerankModel | quote }}
{{- end }}
{{- with $llm }}
- name: RAGSTREAM_MODELS__LLM_URL
  value: {{ . | quote }}
{{- end }}
{{- with (ternary (ternary "llama-3-70b-instruct" "llama-3-8b-instruct" (eq .Values.modelServing.profile "70b")) .Values.models.llmModel $served) }}
- name: RAGSTREAM_MODELS__LLM_MODEL
  value: {{ . | quote }}
{{- end }}
- name: RAGSTREAM_MODELS__EMBED_BATCH_SIZE
  value: {{ .Values.models.embedBatchSize | quote }}
- name: RAGSTREAM_MODELS__CHUNK_MAX_TOKENS
  value: {{ .Values.models.chunkMaxTokens | quote }}
- name: RAGSTREAM_MODELS__CHUNK_OVERLAP_TOKENS
  value: {{ .Values.models.chunkOverlapTokens | quote }}
- name: RAGSTREAM_PIPELINE__RETRY_ATTEMPTS
  value: {{ .Values.pipeline.retryAttempts | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod spec every role shares; .role is its name, .spec its values entry. */}}
{{- define "ragstream.podSpec" -}}
{{- $root := .root }}
serviceAccountName: {{ include "ragstream.serviceAccountName" $root }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml (default $root.Values.podSecurityContext .spec.podSecurityContext) | nindent 2 }}
terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
containers:
  - name: {{ .role }}
    image: {{ include "ragstream.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    command: ["ragstream", "worker", {{ .role | quote }}]
    env:
      {{- include "ragstream.env" $root | nindent 6 }}
      {{- if and .spec.generation $root.Values.generation }}
      - name: RAGSTREAM_GENERATION
        value: {{ $root.Values.generation | quote }}
      {{- end }}
      {{- if eq .role "gateway" }}
      - name: RAGSTREAM_GATEWAY__HOST
        value: "0.0.0.0"
      - name: RAGSTREAM_GATEWAY__PORT
        value: {{ $root.Values.gateway.port | quote }}
      # The StatefulSet's stable pod name names this instance's reply topic.
      - name: RAGSTREAM_GATEWAY__INSTANCE_ID
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      {{- end }}
    ports:
      - name: http
        containerPort: {{ $root.Values.metrics.port }}
        protocol: TCP
      {{- if eq .role "gateway" }}
      - name: ws
        containerPort: {{ $root.Values.gateway.port }}
        protocol: TCP
      {{- end }}
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      {{- toYaml $root.Values.probes.liveness | nindent 6 }}
    readinessProbe:
      httpGet: {path: /readyz, port: {{ ternary "ws" "http" (eq .role "gateway") }}}
      {{- toYaml $root.Values.probes.readiness | nindent 6 }}
    resources:
      {{- toYaml .spec.resources | nindent 6 }}
    securityContext:
      {{- toYaml (default $root.Values.securityContext .spec.securityContext) | nindent 6 }}
    volumeMounts:
      - name: home
        mountPath: {{ $root.Values.home.mountPath }}
volumes:
  - name: home
    {{- if $root.Values.home.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ include "ragstream.homeClaim" $root }}
    {{- else }}
    emptyDir: {}
    {{- end }}
{{- with (default $root.Values.nodeSelector .spec.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $root.Values.tolerations .spec.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The deployment's name in a shared Redis (answer cache, gateway registry): deploymentId, else
<namespace>-<release>. Two clusters installing the same release into namespaces of the same name and
sharing one Redis must set deploymentId (values.yaml). (Looking up the namespace's uid was tried:
it fails under namespace-only RBAC and changes the id on upgrade, orphaning running requests.) */}}
{{- define "ragstream.deploymentId" -}}
{{- .Values.deploymentId | default (printf "%s-%s" .Release.Namespace .Release.Name) -}}
{{- end -}}
