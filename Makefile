# airflow_ha.cluster — the two commands a newcomer needs are `make lab` and `make test`.
# Every target sets up what it needs itself: the virtualenv (Python >= 3.12), a Docker engine,
# the locally built systemd base images, and the collection link that resolves airflow_ha.cluster.*.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
export AIRFLOW_HA_ROOT := $(CURDIR)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PY_COLORS := 0
export ANSIBLE_NOCOLOR := 1
# One molecule scenario at a time on this machine (2 cores): every scenario run takes this lock.
MOLECULE_LOCK ?= /tmp/airflow-ha-molecule.lock
COLLECTION_LINK := .cache/collections/ansible_collections/airflow_ha/cluster

# Role scenarios run by `make test`, in this order (each is roles/<role>/molecule/default).
MOLECULE_ROLES ?= redis_cluster rabbitmq_aws_peer_discovery airflow_common scheduler_failover celery_worker
# The faster loop for development.
FAST_STEPS ?= lint unit build-test

.PHONY: help bootstrap venv docker images airflow-image collection-link lint unit build-test integration sanity \
        test test-fast molecule-% build clean lab lab-aws asg-drill db-drill scale-drill lab-down test-lab lab-memory chaos bench

help:
	@echo "make lab         the cluster as systemd containers on this machine (make lab-down removes it)"
	@echo "make test        lint, unit tests, ansible-test sanity, build/install, AWS layer on moto, every role scenario"
	@echo "make test-fast   lint + unit tests + collection build/install (no containers)"
	@echo "make molecule-ROLE   one role's molecule scenario, e.g. make molecule-redis_cluster"
	@echo "make asg-drill   on a running lab: an Auto Scaling worker pool scales out, replaces an instance, scales in"
	@echo "make db-drill    on a running lab: metadata DB backup, clean-up (one node at a time), restore (JSON in artifacts/db)"
	@echo "make scale-drill on a running lab: a worker added by one inventory entry, then drained and removed (artifacts/scale)"
	@echo "make chaos       failover drills on the lab under load (JSON + PNG timeline in artifacts/chaos)"
	@echo "make bench       lab vs airflow standalone, 1 vs 2 schedulers, converge times (artifacts/bench)"
	@echo "make build       ansible-galaxy collection build (tarball in ./artifacts)"
	@echo "make bootstrap   venv + Docker engine + base images + collection link"

bootstrap: venv docker images collection-link airflow-image

venv:
	@scripts/ensure-venv.sh
	@grep -q AIRFLOW_HA_ROOT $(VENV)/bin/activate || printf '%s\n' \
	  'export AIRFLOW_HA_ROOT="$(CURDIR)"' \
	  'export ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/.cache/collections"' \
	  'export ANSIBLE_ROLES_PATH="$(CURDIR)/roles"' >> $(VENV)/bin/activate

docker:
	@scripts/ensure-docker.sh

# Base images to build: the lab and every scenario use Debian 12 only; IMAGES="debian12 debian13" adds trixie.
IMAGES ?= debian12
images: docker
	@tests/images/build.sh $(IMAGES)

# The base image with Airflow pre-installed by airflow_common's install tasks (scenarios past the
# airflow_common one and the lab start from it; airflow_common's own scenario installs from scratch).
airflow-image: venv images collection-link
	@tests/images/bake-airflow.sh debian12

collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

lint: venv collection-link
	yamllint --strict .
	ansible-lint

unit: venv collection-link
	pytest -q tests/unit

integration: venv collection-link
	pytest -q tests/integration

sanity: venv
	scripts/sanity.sh

molecule-%: venv docker images airflow-image collection-link
	cd roles/$* && flock $(MOLECULE_LOCK) molecule test

# Every step runs even when an earlier one failed; the run fails when any step failed.
TEST_STEPS ?= lint unit sanity build-test integration $(addprefix molecule-,$(MOLECULE_ROLES)) test-lab

test: bootstrap
	@scripts/run-tests.sh $(TEST_STEPS)

test-fast: venv collection-link
	@scripts/run-tests.sh $(FAST_STEPS)

LAB_INVENTORY ?= inventories/lab
# The lab's broker: redis (Sentinel, default) or rabbitmq. Switching on a running lab: make lab-down first.
BROKER ?= redis
export AIRFLOW_HA_LAB_BROKER := $(BROKER)

# The main job: the cluster as systemd containers on this machine, hello_world2 run through the
# load balancer, then a summary (URLs, where each task ran, every component's state).
lab: bootstrap
	@start=$$(date +%s); ansible-playbook -i $(LAB_INVENTORY) playbooks/lab.yml; rc=$$?; \
	  echo "lab: make lab took $$(( $$(date +%s) - start )) s (exit $$rc)"; exit $$rc

# The same cluster through inventories/aws_ec2.yml: tagged instances on a local moto server map to
# the lab's containers; site.yml then converges them (changed=0 on a lab made by `make lab`).
lab-aws: venv docker collection-link
	scripts/lab-aws.sh

# On a running lab (make lab): make lab-aws, then the Auto Scaling drill on its worker pool (scale out, an instance
# replaced, scale in; scripts/asg_drill.py), JSON + PNG copied to docs/results.
asg-drill: venv docker collection-link
	flock $(MOLECULE_LOCK) scripts/lab-aws.sh python3 scripts/asg_drill.py
	cp $${AIRFLOW_HA_ARTIFACTS:-artifacts}/asg/asg-drill.json $${AIRFLOW_HA_ARTIFACTS:-artifacts}/asg/asg-drill.png docs/results/

# The metadata database's upkeep on a running lab: backup timer's dump and retention, the schedulers' locked clean-up,
# playbooks/db_restore.yml after an accident (scripts/db_drill.py); JSON copied to docs/results.
db-drill: venv docker collection-link
	flock $(MOLECULE_LOCK) python3 scripts/db_drill.py
	cp $${AIRFLOW_HA_ARTIFACTS:-artifacts}/db/db-drill.json docs/results/

# Scale-out by one inventory entry, scale-in with playbooks/drain_workers.yml (scripts/scale_drill.py).
scale-drill: venv docker collection-link
	flock $(MOLECULE_LOCK) python3 scripts/scale_drill.py
	cp $${AIRFLOW_HA_ARTIFACTS:-artifacts}/scale/scale-drill.json docs/results/

# The whole-cluster end-to-end test (make lab twice, make lab-aws, make lab-down); part of make test.
test-lab: bootstrap
	scripts/test-lab.sh

# Memory of the running lab's containers (now, and the sum of per-container peaks).
lab-memory:
	@scripts/lab-memory.sh

# Failover drills on the lab (made first when it is not running): one fault at a time under a steady
# load; artifacts/chaos/chaos-<broker>.json + .png; fails when a fault loses, strands or doubles a task.
# CHAOS_ARGS passes options, e.g. CHAOS_ARGS="--faults broker,worker_kill".
chaos: bootstrap
	flock $(MOLECULE_LOCK) python scripts/chaos.py $(CHAOS_ARGS)

# Benchmarks (they report, never fail on timing): airflow standalone vs the lab, 1 vs 2 schedulers,
# site.yml on a fresh lab and its re-run. Rebuilds the lab (the secrets file is kept).
bench: bootstrap
	flock $(MOLECULE_LOCK) python scripts/bench.py $(BENCH_ARGS)

lab-down: venv docker collection-link
	ansible-playbook -i $(LAB_INVENTORY) playbooks/lab_down.yml

# Build the tarball, install it elsewhere, use its roles by FQCN from a playbook outside the repo.
build-test: venv
	scripts/test-build.sh

build: venv
	mkdir -p artifacts
	ansible-galaxy collection build --force --output-path artifacts .

clean:
	rm -rf .cache artifacts
