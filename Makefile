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
MOLECULE_ROLES ?= redis_cluster rabbitmq_aws_peer_discovery airflow_common
# The faster loop for development.
FAST_STEPS ?= lint unit build-test

.PHONY: help bootstrap venv docker images collection-link lint unit build-test integration sanity \
        test test-fast molecule-% build clean lab lab-down

help:
	@echo "make lab         the cluster as systemd containers on this machine (make lab-down removes it)"
	@echo "make test        lint, unit tests, ansible-test sanity, build/install, AWS layer on moto, every role scenario"
	@echo "make test-fast   lint + unit tests + collection build/install (no containers)"
	@echo "make molecule-ROLE   one role's molecule scenario, e.g. make molecule-redis_cluster"
	@echo "make build       ansible-galaxy collection build (tarball in ./artifacts)"
	@echo "make bootstrap   venv + Docker engine + base images + collection link"

bootstrap: venv docker images collection-link

venv:
	@scripts/ensure-venv.sh
	@grep -q AIRFLOW_HA_ROOT $(VENV)/bin/activate || printf '%s\n' \
	  'export AIRFLOW_HA_ROOT="$(CURDIR)"' \
	  'export ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/.cache/collections"' \
	  'export ANSIBLE_ROLES_PATH="$(CURDIR)/roles"' >> $(VENV)/bin/activate

docker:
	@scripts/ensure-docker.sh

images: docker
	@tests/images/build.sh

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

molecule-%: venv docker images collection-link
	cd roles/$* && flock $(MOLECULE_LOCK) molecule test

# Every step runs even when an earlier one failed; the run fails when any step failed.
TEST_STEPS ?= lint unit sanity build-test integration $(addprefix molecule-,$(MOLECULE_ROLES))

test: bootstrap
	@scripts/run-tests.sh $(TEST_STEPS)

test-fast: venv collection-link
	@scripts/run-tests.sh $(FAST_STEPS)

LAB_INVENTORY ?= inventories/lab

# The main job: the cluster as systemd containers on this machine, then a summary.
lab: bootstrap
	ansible-playbook -i $(LAB_INVENTORY) playbooks/lab.yml

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
