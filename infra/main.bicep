// Deploys nothing. The Pulumi program in this folder provisions every resource, from azd's preprovision hook
// (scripts/azd/provision.py), and the predown hook destroys them (scripts/azd/down.py).
//
// azd has no Pulumi provider: `azd provision` and `azd down` always compile and deploy the Bicep module named
// in azure.yaml (`infra.module`), and fail when there is none. This empty subscription-scope deployment lets
// both commands run their hooks and finish. It creates no resource and costs nothing; `azd down` finds no
// resource in it and only clears its record.
targetScope = 'subscription'
