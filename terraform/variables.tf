variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-west-1"
}

variable "cluster_name" {
  description = "Name of the EKS cluster, and prefix of everything else. karpenter/*.yaml assume \"ragstream\" (the node role KarpenterNodeRole-<name> and the karpenter.sh/discovery tag): change both together."
  type        = string
  default     = "ragstream"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.33"
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# ------------------------------------------------------------------------------------ network
variable "vpc_cidr" {
  description = "CIDR of the VPC created for the cluster and its data stores."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread subnets, brokers and replicas over."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (MSK and Aurora need at least two zones)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) instead of one per zone (zone-failure tolerant)."
  type        = bool
  default     = true
}

variable "endpoint_public_access" {
  description = "Whether the EKS API endpoint is reachable from outside the VPC, and then only from endpoint_public_access_cidrs. Off by default: reach the API from the VPC (a bastion, VPN or CI runner inside it)."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the public EKS API endpoint when endpoint_public_access is true (your office or CI egress, e.g. [\"203.0.113.0/24\"])."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "The EKS API must not be open to the whole internet: list the CIDRs that need it."
  }
}

# ------------------------------------------------------------------------------------ cluster
variable "system_node_instance_types" {
  description = "Instance types of the small managed node group that runs Karpenter, KEDA and CoreDNS (everything else runs on Karpenter nodes)."
  type        = list(string)
  default     = ["m7i.large", "m6i.large"]
}

variable "ragstream_namespace" {
  description = "Namespace the helm/ragstream chart is installed into."
  type        = string
  default     = "ragstream"
}

variable "ragstream_service_account" {
  description = "ServiceAccount of the ragstream workers (the chart's fullname: \"ragstream\" for a release named ragstream)."
  type        = string
  default     = "ragstream"
}

variable "karpenter_version" {
  description = "Karpenter Helm chart version (v1 API: NodePool / EC2NodeClass)."
  type        = string
  default     = "1.13.0"
}

variable "keda_version" {
  description = "KEDA Helm chart version (scales the stages on consumer-group lag)."
  type        = string
  default     = "2.18.3"
}

variable "nvidia_device_plugin_version" {
  description = "NVIDIA device plugin Helm chart version (advertises nvidia.com/gpu on Karpenter GPU nodes)."
  type        = string
  default     = "0.19.3"
}

variable "efs_csi_driver_version" {
  description = "AWS EFS CSI driver Helm chart version (the shared ReadWriteMany RAGSTREAM_HOME volume)."
  type        = string
  default     = "4.4.1"
}

# ---------------------------------------------------------------------------------------- MSK
variable "msk_kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.9.x"
}

variable "msk_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_count" {
  description = "Number of MSK brokers; a multiple of az_count."
  type        = number
  default     = 3
}

variable "msk_volume_size_gb" {
  description = "EBS storage per broker, GiB. Messages stay small (claim check), so this is mostly retention."
  type        = number
  default     = 500
}

variable "kafka_default_partitions" {
  description = "num.partitions on MSK; helm/ragstream's kafka.partitions creates the registry topics explicitly."
  type        = number
  default     = 12
}

# ------------------------------------------------------------------------------------- Aurora
variable "aurora_engine_version" {
  description = "Aurora PostgreSQL engine version (Serverless v2)."
  type        = string
  default     = "16.6"
}

variable "aurora_min_capacity" {
  description = "Serverless v2 minimum ACUs (0 lets an idle cluster pause)."
  type        = number
  default     = 0.5
}

variable "aurora_max_capacity" {
  description = "Serverless v2 maximum ACUs."
  type        = number
  default     = 16
}

variable "aurora_instance_count" {
  description = "Aurora instances (1 writer + readers); 2 gives a standby in another zone."
  type        = number
  default     = 2
}

variable "deletion_protection" {
  description = "Protect Aurora from deletion and take a final snapshot on destroy. Turn off for throw-away environments."
  type        = bool
  default     = true
}

# -------------------------------------------------------------------------------- ElastiCache
variable "redis_engine_version" {
  description = "ElastiCache Redis OSS engine version."
  type        = string
  default     = "7.1"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.medium"
}

variable "redis_replicas" {
  description = "Cache nodes in the replication group (primary + replicas); 2 or more enables automatic failover."
  type        = number
  default     = 2
}

# ----------------------------------------------------------------------------------------- S3
variable "blob_bucket_name" {
  description = "Name of the claim-check blob bucket; null derives <cluster_name>-blobs-<account id>."
  type        = string
  default     = null
}

variable "blob_noncurrent_days" {
  description = "Days to keep overwritten or deleted blob versions."
  type        = number
  default     = 30
}
