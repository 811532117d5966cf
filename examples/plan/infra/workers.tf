# Worker runtime settings (SRE-04-01); autoscaling tuned in SRE-04-04
variable "env" { type = string }

locals {
  worker_pool = {
    staging = { min = 2, max = 6,  cpu = "500m", memory = "1Gi" }
    prod    = { min = 3, max = 24, cpu = "1",    memory = "2Gi" }
  }
}

module "atlas_workers" {
  source = "../modules/worker-pool"

  name                 = "atlas-worker"
  env                  = var.env
  min_replicas         = local.worker_pool[var.env].min
  max_replicas         = local.worker_pool[var.env].max
  cpu                  = local.worker_pool[var.env].cpu
  memory               = local.worker_pool[var.env].memory
  shutdown_grace_secs  = 60
  queues               = ["case-events", "sla-timers"]
}
