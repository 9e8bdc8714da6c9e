output "cluster_name" {
  description = "EKS cluster name."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "EKS API endpoint."
  value       = module.eks.cluster_endpoint
}

output "configure_kubectl" {
  description = "Command that points kubectl at the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "karpenter_node_role_name" {
  description = "Node IAM role the EC2NodeClasses in karpenter/ must name (spec.role)."
  value       = module.karpenter.node_iam_role_name
}

output "msk_bootstrap_brokers" {
  description = "MSK SASL/SCRAM over TLS bootstrap (port 9096): helm/ragstream kafka.bootstrap."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
}

output "msk_scram_secret_arn" {
  description = "The Secrets Manager secret (username, password) of the workers' SCRAM credentials."
  value       = aws_secretsmanager_secret.msk_scram.arn
}

output "aurora_endpoint" {
  description = "Aurora PostgreSQL writer endpoint."
  value       = aws_rds_cluster.this.endpoint
}

output "aurora_reader_endpoint" {
  description = "Aurora PostgreSQL reader endpoint."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "aurora_master_secret_arn" {
  description = "Secrets Manager secret holding the Aurora master credentials."
  value       = try(aws_rds_cluster.this.master_user_secret[0].secret_arn, null)
}

output "redis_url" {
  description = "ElastiCache primary endpoint (TLS); the auth token is in redis_auth_token."
  value       = "rediss://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
}

output "redis_auth_token" {
  description = "ElastiCache AUTH token."
  value       = random_password.redis_auth.result
  sensitive   = true
}

output "blob_bucket" {
  description = "S3 bucket for claim-check blobs."
  value       = aws_s3_bucket.blobs.bucket
}

output "efs_file_system_id" {
  description = "EFS file system behind the efs-sc storage class (shared RAGSTREAM_HOME)."
  value       = aws_efs_file_system.home.id
}

output "workers_irsa_role_arn" {
  description = "IAM role for the ragstream ServiceAccount (IRSA)."
  value       = aws_iam_role.workers.arn
}

output "ecr_repository_url" {
  description = "Push the image here: helm/ragstream image.repository."
  value       = aws_ecr_repository.ragstream.repository_url
}

# Values for helm/ragstream that come from this stack (Qdrant, Neo4j and secrets are added by hand):
#   terraform output -raw ragstream_helm_values > cluster-values.yaml
#   helm upgrade --install ragstream helm/ragstream -n ragstream --create-namespace \
#     -f cluster-values.yaml --set secrets.neo4jPassword=...
output "ragstream_helm_values" {
  description = "YAML values for helm/ragstream wired to this stack."
  value = yamlencode({
    image = {
      repository = aws_ecr_repository.ragstream.repository_url
    }
    serviceAccount = {
      name        = var.ragstream_service_account
      annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.workers.arn }
    }
    kafka = {
      bootstrap         = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
      replicationFactor = local.kafka_replication_factor
      partitions        = var.kafka_default_partitions
      security = {
        protocol      = "SASL_SSL"
        saslMechanism = "SCRAM-SHA-512"
        username      = "ragstream"
      }
    }
    secrets = {
      externalSecret = {
        enabled  = true
        kafkaKey = aws_secretsmanager_secret.msk_scram.arn
        aurora = {
          secretKey = try(aws_rds_cluster.this.master_user_secret[0].secret_arn, "")
          host      = aws_rds_cluster.this.endpoint
          port      = 5432
          database  = aws_rds_cluster.this.database_name
        }
      }
    }
    external = {
      redis = {
        url = "rediss://${aws_elasticache_replication_group.this.primary_endpoint_address}:6379"
      }
      s3 = {
        bucket = aws_s3_bucket.blobs.bucket
        region = var.region
      }
    }
    home = {
      persistence = {
        storageClassName = "efs-sc"
      }
    }
  })
}
