"""One Function App, four agents, four model providers: the same tools and routes whichever model answers.

Routes: POST /api/agents/{ClaudeAgent|GeminiAgent|OllamaAgent|AzureOpenAIAgent}/chat, GET /api/agents,
GET /api/agents/{name}/info, GET /api/health. Each agent module says which setting selects its provider.
"""

from anthropic_claude import claude_agent
from azure_openai import azure_openai_agent
from google_gemini import gemini_agent
from ollama_local import ollama_agent

from azurefunctions.agents import AgentFunctionApp

app = AgentFunctionApp(agents={
    "ClaudeAgent": claude_agent,
    "GeminiAgent": gemini_agent,
    "OllamaAgent": ollama_agent,
    "AzureOpenAIAgent": azure_openai_agent,
})
