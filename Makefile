# The two commands a user needs; see README.md.
#   make demo  - build the test hosts and run the collection's main playbook on them
#   make test  - lint, sanity, unit, build (and site.yml from the built tarball), ee, docs, integration and molecule tests
#   make test-vm - the VM lane: molecule/vm on a qemu VM (cgroup v2, own kernel, SSH, reboot)
#   make docs  - the HTML docs site in .cache/docs/html (scripts/docs.sh)
#   make ee    - the execution environment image for AWX/AAP/ansible-navigator (scripts/ee.sh)
#   make bench - the benchmark against community.docker, containers.podman and raw ctr (bench/README.md)
SHELL := /bin/bash

.PHONY: setup demo test test-vm lint sanity unit integration molecule clean build bench docs ee

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	bash scripts/test.sh

test-vm: setup
	bash scripts/test.sh vm

lint sanity unit integration molecule: setup
	bash scripts/test.sh $@

docs: setup
	bash scripts/docs.sh

ee: setup
	bash scripts/ee.sh

# BENCH_ARGS, e.g. "--runs 5" or "--phases stack": see bench/run.sh.
bench: setup
	bash bench/run.sh $(BENCH_ARGS)

build:
	.venv/bin/ansible-galaxy collection build --force --output-path .cache/dist .

clean:
	bash tests/testbed/fleet.sh cleanup-all || true
	rm -rf .cache/dist .cache/ansible-tmp tests/output
