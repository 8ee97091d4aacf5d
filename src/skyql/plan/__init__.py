"""skyql.plan: resource references -> method calls (required params, IN fan-out, method choice)."""

from skyql.plan.model import Fetch, JoinParam, Plan
from skyql.plan.select import plan_query

__all__ = ["Fetch", "JoinParam", "Plan", "plan_query"]
