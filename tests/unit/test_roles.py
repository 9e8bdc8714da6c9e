"""The role declarations agree with what the code runs: the agent roles are the graph's nodes fed
by their registry topics, the stages form the pipeline's chain, and every consumed topic has a
producer (or comes from outside: the publisher)."""

from __future__ import annotations

import pytest

import topics
from services import roles
from services.agent.graph import NODES


def test_agent_roles_are_the_graph_nodes_on_their_topics() -> None:
    """Each agent node of the LangGraph graph is a role consuming exactly its registry topic."""
    assert set(roles.AGENT_NODES) == set(NODES)
    for name in roles.AGENT_NODES:
        assert roles.BY_NAME[name].consumes == (topics.NODE_TOPICS[name],)


def test_every_consumed_topic_has_a_producer() -> None:
    """Nothing waits on a topic no role writes (the API writes the ingest topic, as the CLI does)."""
    produced = {t for r in roles.ROLES for t in r.produces}
    consumed = {t for r in roles.ROLES for t in r.consumes}
    assert consumed <= produced


def test_stage_lists_derive_from_the_declaration() -> None:
    """Front stages run once; an index generation re-runs the rest; together they are the pipeline."""
    assert roles.STAGES == ("parse", "chunk", "embed", "extract-graph", "index")
    assert roles.FRONT_STAGES + roles.GENERATION_STAGES == roles.STAGES
    assert all(roles.BY_NAME[s].consumes for s in roles.STAGES)


def test_resolve_names_roles_in_order_and_refuses_unknown_ones() -> None:
    """`all` is every role; an unknown name raises listing the choices."""
    assert [r.name for r in roles.resolve(["gateway", "parse"])] == ["parse", "gateway"]
    assert len(roles.resolve(["all"])) == len(roles.ROLES)
    with pytest.raises(ValueError, match="choose from parse, chunk"):
        roles.resolve(["parse", "nope"])


def test_the_answer_cache_implies_the_vector_and_embedder_ports() -> None:
    """plan and respond use the cache, which reads the vector alias: they need the vectors too."""
    plan = roles.BY_NAME["plan"]
    assert plan.needs("vectors")
    assert plan.needs("embedder")
    assert not plan.needs("graph")
    assert not roles.BY_NAME["gateway"].needs("vectors")
