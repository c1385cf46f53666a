#pragma once
#define LAMINA_VERSION "0.1.0"
