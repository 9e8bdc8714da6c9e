# ragstream cluster mode (design.md §3): EKS with Karpenter and KEDA, Amazon MSK, Aurora PostgreSQL
# Serverless v2, ElastiCache Redis, an S3 bucket for claim-check blobs, EFS for the shared
# RAGSTREAM_HOME, IRSA roles for the workers. Qdrant and Neo4j run in the cluster from their own
# charts (or as managed services); helm/ragstream points at all of them (output ragstream_helm_values).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

# Karpenter's chart lives in ECR Public, which only authenticates in us-east-1.
data "aws_ecrpublic_authorization_token" "token" {
  region = "us-east-1"
}

locals {
  name       = var.cluster_name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  blob_bucket = coalesce(var.blob_bucket_name, "${var.cluster_name}-blobs-${local.account_id}")

  # Three copies where there are three brokers; acks=all then needs all but one in sync.
  kafka_replication_factor = min(3, var.msk_broker_count)
  kafka_min_insync         = max(1, local.kafka_replication_factor - 1)

  tags = merge(var.tags, {
    Project   = "ragstream"
    Cluster   = var.cluster_name
    ManagedBy = "terraform"
  })
}

################################################################################
# Network
################################################################################

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 6.0"

  name = local.name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 48)]
  intra_subnets   = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 52)]

  enable_nat_gateway = true
  single_nat_gateway = var.single_nat_gateway

  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
    # Karpenter's EC2NodeClass finds the node subnets by this tag (karpenter/ec2nodeclass-*.yaml).
    "karpenter.sh/discovery" = local.name
  }
}

################################################################################
# EKS
################################################################################

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 21.0"

  name               = local.name
  kubernetes_version = var.kubernetes_version

  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs

  # Lets the identity running terraform install the charts below.
  enable_cluster_creator_admin_permissions = true

  # The OIDC provider behind IRSA (the workers' S3 role, the EFS CSI controller).
  enable_irsa = true

  addons = {
    coredns = {}
    eks-pod-identity-agent = {
      before_compute = true
    }
    kube-proxy = {}
    vpc-cni = {
      before_compute = true
    }
  }

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.intra_subnets

  # A small fixed group for the controllers; workloads run on Karpenter's nodes (karpenter/).
  eks_managed_node_groups = {
    system = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.system_node_instance_types
      min_size       = 2
      max_size       = 3
      desired_size   = 2
      labels = {
        "karpenter.sh/controller" = "true"
      }
    }
  }

  # Karpenter's EC2NodeClass picks this security group by tag, so its nodes can reach the stores.
  node_security_group_tags = {
    "karpenter.sh/discovery" = local.name
  }
}

################################################################################
# Karpenter (controller, IAM, interruption queue); NodePools are in karpenter/
################################################################################

module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "~> 21.0"

  cluster_name = module.eks.cluster_name

  # The EC2NodeClasses in karpenter/ name this role: KarpenterNodeRole-<cluster_name>.
  node_iam_role_use_name_prefix = false
  node_iam_role_name            = "KarpenterNodeRole-${local.name}"
  node_iam_role_additional_policies = {
    AmazonSSMManagedInstanceCore = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }

  # The controller authenticates through EKS Pod Identity (the module's supported path in v21).
  create_pod_identity_association = true
}

resource "helm_release" "karpenter" {
  name                = "karpenter"
  namespace           = module.karpenter.namespace
  repository          = "oci://public.ecr.aws/karpenter"
  repository_username = data.aws_ecrpublic_authorization_token.token.user_name
  repository_password = data.aws_ecrpublic_authorization_token.token.password
  chart               = "karpenter"
  version             = var.karpenter_version
  wait                = true

  values = [yamlencode({
    nodeSelector = { "karpenter.sh/controller" = "true" }
    dnsPolicy    = "Default"
    serviceAccount = {
      name = module.karpenter.service_account
    }
    settings = {
      clusterName       = module.eks.cluster_name
      clusterEndpoint   = module.eks.cluster_endpoint
      interruptionQueue = module.karpenter.queue_name
    }
  })]

  depends_on = [module.eks]
}

################################################################################
# KEDA (consumer-lag autoscaling) and the NVIDIA device plugin (GPU nodes)
################################################################################

resource "helm_release" "keda" {
  name             = "keda"
  namespace        = "keda"
  create_namespace = true
  repository       = "https://kedacore.github.io/charts"
  chart            = "keda"
  version          = var.keda_version

  values = [yamlencode({
    nodeSelector = { "karpenter.sh/controller" = "true" }
  })]

  depends_on = [module.eks]
}

# Karpenter's GPU NodePool labels its nodes nvidia.com/gpu.present=true, which the chart's default
# affinity selects, and the chart tolerates the nvidia.com/gpu taint.
resource "helm_release" "nvidia_device_plugin" {
  name       = "nvidia-device-plugin"
  namespace  = "kube-system"
  repository = "https://nvidia.github.io/k8s-device-plugin"
  chart      = "nvidia-device-plugin"
  version    = var.nvidia_device_plugin_version

  depends_on = [module.eks]
}

################################################################################
# IRSA roles
################################################################################

# Trust policy for one ServiceAccount through the cluster's OIDC provider.
data "aws_iam_policy_document" "irsa_assume" {
  for_each = {
    workers = "system:serviceaccount:${var.ragstream_namespace}:${var.ragstream_service_account}"
    efs_csi = "system:serviceaccount:kube-system:efs-csi-controller-sa"
  }

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = [each.value]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# The pipeline workers: read and write claim-check blobs. Annotate the chart's ServiceAccount with
# this role (serviceAccount.annotations."eks.amazonaws.com/role-arn").
resource "aws_iam_role" "workers" {
  name               = "${local.name}-workers"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume["workers"].json
}

data "aws_iam_policy_document" "workers_blobs" {
  statement {
    sid       = "ListBlobBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.blobs.arn]
  }

  statement {
    sid = "ReadWriteBlobs"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.blobs.arn}/*"]
  }
}

resource "aws_iam_role_policy" "workers_blobs" {
  name   = "blobs"
  role   = aws_iam_role.workers.id
  policy = data.aws_iam_policy_document.workers_blobs.json
}

resource "aws_iam_role" "efs_csi" {
  name               = "${local.name}-efs-csi"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume["efs_csi"].json
}

resource "aws_iam_role_policy_attachment" "efs_csi" {
  role       = aws_iam_role.efs_csi.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"
}

################################################################################
# S3: claim-check blobs (content-addressed: the same bytes always get the same key)
################################################################################

resource "aws_s3_bucket" "blobs" {
  bucket = local.blob_bucket
}

resource "aws_s3_bucket_ownership_controls" "blobs" {
  bucket = aws_s3_bucket.blobs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "blobs" {
  bucket = aws_s3_bucket.blobs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "blobs" {
  bucket = aws_s3_bucket.blobs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "blobs" {
  bucket = aws_s3_bucket.blobs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "blobs" {
  bucket = aws_s3_bucket.blobs.id

  rule {
    id     = "tidy"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = var.blob_noncurrent_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.blobs]
}

################################################################################
# EFS: the shared ReadWriteMany RAGSTREAM_HOME (storage class "efs-sc") until blobs move to S3
################################################################################

resource "aws_security_group" "efs" {
  name_prefix = "${local.name}-efs-"
  description = "NFS from the EKS nodes"
  vpc_id      = module.vpc.vpc_id

  ingress {
    description     = "NFS"
    from_port       = 2049
    to_port         = 2049
    protocol        = "tcp"
    security_groups = [module.eks.node_security_group_id]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_efs_file_system" "home" {
  creation_token   = "${local.name}-home"
  encrypted        = true
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  tags = {
    Name = "${local.name}-home"
  }
}

resource "aws_efs_mount_target" "home" {
  count = length(local.azs)

  file_system_id  = aws_efs_file_system.home.id
  subnet_id       = module.vpc.private_subnets[count.index]
  security_groups = [aws_security_group.efs.id]
}

resource "helm_release" "efs_csi_driver" {
  name       = "aws-efs-csi-driver"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/aws-efs-csi-driver"
  chart      = "aws-efs-csi-driver"
  version    = var.efs_csi_driver_version

  values = [yamlencode({
    controller = {
      serviceAccount = {
        create      = true
        name        = "efs-csi-controller-sa"
        annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.efs_csi.arn }
      }
    }
    storageClasses = [{
      name          = "efs-sc"
      reclaimPolicy = "Retain"
      parameters = {
        provisioningMode = "efs-ap"
        fileSystemId     = aws_efs_file_system.home.id
        directoryPerms   = "700"
        basePath         = "/ragstream"
      }
    }]
  })]

  depends_on = [module.eks, aws_efs_mount_target.home]
}

################################################################################
# Amazon MSK
################################################################################

resource "aws_security_group" "msk" {
  name_prefix = "${local.name}-msk-"
  description = "Kafka clients from the EKS nodes"
  vpc_id      = module.vpc.vpc_id

  ingress {
    description     = "Kafka SASL/SCRAM over TLS: the only listener clients may use"
    from_port       = 9096
    to_port         = 9096
    protocol        = "tcp"
    security_groups = [module.eks.node_security_group_id]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_configuration" "this" {
  name           = "${local.name}-kafka"
  kafka_versions = [var.msk_kafka_version]

  # Topics come from the registry (the chart's topic-init hook); producers use acks=all with
  # idempotence, so all in-sync replicas but one must confirm each write. The 7-day default below
  # applies only to topics the registry gives no retention: docs.chunks (the replay source of a
  # reindex) and every *.dlq are created with retention.ms=-1 and retention.bytes=-1, and the hook
  # re-applies that to existing topics (topics/admin.py), so a reindex can always rebuild everything.
  server_properties = <<-EOT
    auto.create.topics.enable=false
    default.replication.factor=${local.kafka_replication_factor}
    min.insync.replicas=${local.kafka_min_insync}
    num.partitions=${var.kafka_default_partitions}
    message.max.bytes=2097152
    log.retention.hours=168
  EOT

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "this" {
  cluster_name           = local.name
  kafka_version          = var.msk_kafka_version
  number_of_broker_nodes = var.msk_broker_count

  broker_node_group_info {
    instance_type   = var.msk_instance_type
    client_subnets  = module.vpc.private_subnets
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_volume_size_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  # Clients authenticate with SASL/SCRAM-SHA-512 over TLS (port 9096); nothing listens in plaintext
  # and nothing is let in unauthenticated. The credentials are in Secrets Manager (below).
  client_authentication {
    sasl {
      scram = true
    }
    unauthenticated = false
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  # Broker JMX and node metrics for Prometheus (consumer lag itself comes from KEDA / kafka-exporter).
  open_monitoring {
    prometheus {
      jmx_exporter {
        enabled_in_broker = true
      }
      node_exporter {
        enabled_in_broker = true
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.msk_broker_count % var.az_count == 0
      error_message = "msk_broker_count must be a multiple of az_count."
    }
  }
}

# SCRAM credentials for the workers: MSK reads them from a Secrets Manager secret whose name starts
# with AmazonMSK_ and that is encrypted with a customer-managed key. The External Secrets Operator
# hands the same secret to the pods (helm values secrets.externalSecret.kafkaKey).
resource "aws_kms_key" "msk_scram" {
  description             = "${local.name} MSK SCRAM credentials"
  deletion_window_in_days = 7
  enable_key_rotation     = true
}

resource "random_password" "msk_scram" {
  length  = 32
  special = false
}

resource "aws_secretsmanager_secret" "msk_scram" {
  name       = "AmazonMSK_${local.name}"
  kms_key_id = aws_kms_key.msk_scram.key_id
}

resource "aws_secretsmanager_secret_version" "msk_scram" {
  secret_id     = aws_secretsmanager_secret.msk_scram.id
  secret_string = jsonencode({ username = "ragstream", password = random_password.msk_scram.result })
}

resource "aws_msk_scram_secret_association" "this" {
  cluster_arn     = aws_msk_cluster.this.arn
  secret_arn_list = [aws_secretsmanager_secret.msk_scram.arn]
  depends_on      = [aws_secretsmanager_secret_version.msk_scram]
}

################################################################################
# Aurora PostgreSQL Serverless v2 (chat memory)
################################################################################

resource "aws_db_subnet_group" "aurora" {
  name       = "${local.name}-aurora"
  subnet_ids = module.vpc.private_subnets
}

resource "aws_security_group" "aurora" {
  name_prefix = "${local.name}-aurora-"
  description = "PostgreSQL from the EKS nodes"
  vpc_id      = module.vpc.vpc_id

  ingress {
    description     = "PostgreSQL"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [module.eks.node_security_group_id]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_rds_cluster" "this" {
  cluster_identifier = local.name
  engine             = "aurora-postgresql"
  engine_mode        = "provisioned"
  engine_version     = var.aurora_engine_version
  database_name      = "ragstream"
  master_username    = "ragstream"

  # The password lives in Secrets Manager, rotated by RDS (output aurora_master_secret_arn).
  manage_master_user_password = true

  db_subnet_group_name   = aws_db_subnet_group.aurora.name
  vpc_security_group_ids = [aws_security_group.aurora.id]
  storage_encrypted      = true

  serverlessv2_scaling_configuration {
    min_capacity = var.aurora_min_capacity
    max_capacity = var.aurora_max_capacity
  }

  backup_retention_period   = 7
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.deletion_protection
  final_snapshot_identifier = var.deletion_protection ? "${local.name}-final" : null
  copy_tags_to_snapshot     = true
}

resource "aws_rds_cluster_instance" "this" {
  count = var.aurora_instance_count

  identifier         = "${local.name}-${count.index}"
  cluster_identifier = aws_rds_cluster.this.id
  instance_class     = "db.serverless"
  engine             = aws_rds_cluster.this.engine
  engine_version     = aws_rds_cluster.this.engine_version

  performance_insights_enabled = true
}

################################################################################
# ElastiCache Redis (rate limits, cache)
################################################################################

resource "aws_elasticache_subnet_group" "redis" {
  name       = "${local.name}-redis"
  subnet_ids = module.vpc.private_subnets
}

resource "aws_security_group" "redis" {
  name_prefix = "${local.name}-redis-"
  description = "Redis from the EKS nodes"
  vpc_id      = module.vpc.vpc_id

  ingress {
    description     = "Redis"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [module.eks.node_security_group_id]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "random_password" "redis_auth" {
  length  = 48
  special = false
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = "${local.name}-redis"
  description          = "ragstream rate limits and cache"
  engine               = "redis"
  engine_version       = var.redis_engine_version
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = "default.redis7"

  num_cache_clusters         = var.redis_replicas
  automatic_failover_enabled = var.redis_replicas > 1
  multi_az_enabled           = var.redis_replicas > 1

  subnet_group_name  = aws_elasticache_subnet_group.redis.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = random_password.redis_auth.result

  snapshot_retention_limit = 1
}

################################################################################
# ECR: the ragstream image (Dockerfile at the repository root)
################################################################################

resource "aws_ecr_repository" "ragstream" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}
